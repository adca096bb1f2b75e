#!/usr/bin/env python3
"""Verify a Keywarden webhook delivery (docs/webhooks.md), standard library only.

In a receiver, call verify() with the request's body exactly as received.
As a program:

    KEYWARDEN_WEBHOOK_SECRET=... KEYWARDEN_SIGNATURE='t=...,v1=...' python3 verify_webhook.py < body

prints "ok" for a genuine, fresh delivery, and otherwise exits with status 1
and the reason on standard error.
"""

import hashlib
import hmac
import os
import sys
import time

TOLERANCE = 300  # seconds a delivery's timestamp may be from this clock


def verify(secret, header, body, tolerance=TOLERANCE, now=None):
    """Raise ValueError unless header, the Keywarden-Signature, signs body
    (bytes) with secret (bytes) within tolerance seconds of now."""
    if not secret:
        raise ValueError("empty secret")
    timestamp, signatures = None, []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise ValueError("malformed signature header")
        if key == "t":
            if timestamp is not None or not (value.isascii() and value.isdigit() and len(value) <= 18):
                raise ValueError("malformed timestamp")
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise ValueError("malformed signature header: want t= and v1=")
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest().encode()
    # Compare with every v1 (two while a secret is rolled), in constant time.
    if not any([hmac.compare_digest(expected, s.encode()) for s in signatures]):
        raise ValueError("no signature matches")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        raise ValueError("timestamp outside the tolerance: a replay, or a clock that is off")


def main():
    try:
        verify(os.environ["KEYWARDEN_WEBHOOK_SECRET"].encode(),
               os.environ.get("KEYWARDEN_SIGNATURE", ""), sys.stdin.buffer.read())
    except KeyError:
        sys.exit("verify_webhook.py: set KEYWARDEN_WEBHOOK_SECRET")
    except ValueError as e:
        sys.exit(f"verify_webhook.py: refused: {e}")
    print("ok")


if __name__ == "__main__":
    main()
