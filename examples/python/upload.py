#!/usr/bin/env python3
"""Upload a file to a process through a gateway that checks keys with Keywarden.

Usage:

    KEYWARDEN_KEY='kwp_...:...' PROCESS_ID=... python3 upload.py [FILE]

KEYWARDEN_KEY is an API key as Keywarden shows it once, "user:password": it
is sent as HTTP Basic credentials, which the gateway passes to Keywarden.
The key needs workspace.file:upload and workspace.file:download for the
process. WORKSPACE_URL is the gateway (default http://127.0.0.1:8000).
Without FILE a small text file is uploaded.

Prints {"upload": ..., "files": [...]} as JSON on standard output. On an HTTP
error it prints the status and the response body (a problem document) on
standard error and exits with status 1.
"""

import json
import os
import sys

import requests
from requests.auth import HTTPBasicAuth


def main():
    key = os.environ.get("KEYWARDEN_KEY", "")
    process_id = os.environ.get("PROCESS_ID", "")
    base = os.environ.get("WORKSPACE_URL", "http://127.0.0.1:8000").rstrip("/")
    user, sep, password = key.partition(":")
    if not sep or not process_id:
        sys.exit("upload.py: set KEYWARDEN_KEY (user:password) and PROCESS_ID")

    if len(sys.argv) > 1:
        name = os.path.basename(sys.argv[1])
        with open(sys.argv[1], "rb") as f:
            content = f.read()
    else:
        name, content = "hello.txt", b"Hello from upload.py.\n"

    session = requests.Session()
    session.auth = HTTPBasicAuth(user, password)
    files_url = f"{base}/v1/processes/{process_id}/files"
    try:
        upload = check(session.post(files_url, params={"name": name}, data=content,
                                    headers={"Content-Type": "application/octet-stream"}, timeout=30))
        files = check(session.get(files_url, timeout=30))
    except requests.RequestException as e:
        sys.exit(f"upload.py: {e}")
    json.dump({"upload": upload, "files": files["files"]}, sys.stdout, indent=2)
    print()


def check(response):
    """Return the response's JSON, or exit on an HTTP error."""
    if not response.ok:
        print(f"upload.py: {response.request.method} {response.url}: HTTP {response.status_code}",
              file=sys.stderr)
        print(response.text, file=sys.stderr)
        sys.exit(1)
    return response.json()


if __name__ == "__main__":
    main()
