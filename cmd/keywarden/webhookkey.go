package main

import (
	"flag"
	"fmt"

	"github.com/keywarden/keywarden/internal/secretbox"
)

// webhookFlags configure webhooks: the key that seals their signing
// secrets (docs/webhook-secrets.md), and whether their URLs may reach the
// operator's own network.
type webhookFlags struct {
	key, keyFile string
	allowPrivate bool
}

func addWebhookFlags(fs *flag.FlagSet) *webhookFlags {
	wf := &webhookFlags{}
	fs.StringVar(&wf.key, "webhook-secret-key", "", "the webhook secret key line, ID:KEY entries separated by commas (KEY: 32 bytes in standard base64), the current key first: it seals webhooks' signing secrets; prefer --webhook-secret-key-file. Without it webhooks cannot be created")
	fs.StringVar(&wf.keyFile, "webhook-secret-key-file", "", "read the webhook secret key line from `file` (one line), so that it is in neither the environment nor the process list")
	fs.BoolVar(&wf.allowPrivate, "webhook-allow-private", false, "let webhook URLs be plain http and reach private, loopback and link-local addresses: for receivers on the operator's own network, never where organizations are not trusted with it")
	return wf
}

// box returns the box of the configured key line, from the flag or its
// file (not both), or nil when there is none. A line that does not parse
// is a usage error; its message names the entry, never the key.
func (wf *webhookFlags) box(a *app) (*secretbox.Box, error) {
	line := wf.key
	switch {
	case wf.key != "" && wf.keyFile != "":
		return nil, fmt.Errorf("%w: %s and %s are both set: give the webhook secret key one way", errUsage,
			a.setting("webhook-secret-key"), a.setting("webhook-secret-key-file"))
	case wf.keyFile != "":
		var err error
		if line, err = secretFromFile(a.setting("webhook-secret-key-file"), wf.keyFile); err != nil {
			return nil, err
		}
	case line == "":
		return nil, nil
	}
	keys, err := secretbox.ParseKeys(line)
	if err != nil {
		setting := a.setting("webhook-secret-key")
		if wf.keyFile != "" {
			setting = a.setting("webhook-secret-key-file")
		}
		return nil, fmt.Errorf("%w: %s: %v", errUsage, setting, err)
	}
	return secretbox.New(keys...)
}
