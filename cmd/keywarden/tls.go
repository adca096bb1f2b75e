package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
)

// tlsFlags are --tls-cert and --tls-key: HTTPS served by keywarden itself,
// for deployments without a TLS-terminating proxy in front.
type tlsFlags struct{ cert, key string }

func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	tf := &tlsFlags{}
	fs.StringVar(&tf.cert, "tls-cert", "", "serve HTTPS on --addr with this PEM certificate `file` (the chain, leaf first); needs --tls-key")
	fs.StringVar(&tf.key, "tls-key", "", "PEM private key `file` of --tls-cert")
	return tf
}

// config loads the key pair, or returns nil without --tls-cert and
// --tls-key. One without the other, or a pair that does not load, stops
// the server: it must not fall back to plain HTTP when HTTPS was asked for.
// TLS 1.2 is the minimum. Only HTTP/1.1 is offered by ALPN, because
// httperr terminates TLS itself (see its package comment).
func (tf *tlsFlags) config(a *app, logger *slog.Logger) (*tls.Config, error) {
	switch {
	case tf.cert == "" && tf.key == "":
		return nil, nil
	case tf.cert == "" || tf.key == "":
		return nil, fmt.Errorf("%w: %s and %s go together: set both, or neither to serve plain HTTP", errUsage, a.setting("tls-cert"), a.setting("tls-key"))
	}
	cert, err := tls.LoadX509KeyPair(tf.cert, tf.key)
	if err != nil {
		return nil, fmt.Errorf("%s %s, %s %s: %w", a.setting("tls-cert"), tf.cert, a.setting("tls-key"), tf.key, err)
	}
	if leaf := cert.Leaf; leaf != nil {
		if now := a.now(); now.After(leaf.NotAfter) {
			logger.Warn("TLS certificate has expired", "tls_cert", tf.cert, "not_after", leaf.NotAfter)
		} else {
			logger.Info("TLS certificate loaded", "tls_cert", tf.cert, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
		}
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}, nil
}
