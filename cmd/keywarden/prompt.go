package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/keywarden/keywarden"
)

// errDeclined is the answer "no" to a confirmation: nothing was changed.
var errDeclined = errors.New("not confirmed: nothing was changed")

// confirm asks question at the terminal unless yes (--yes) answers it. A
// command whose standard input is no terminal — a script, a pipe — must say
// --yes: it is never asked, and so never deletes by accident on a line of
// its input meant for something else.
func (a *app) confirm(yes bool, question string) error {
	if yes {
		return nil
	}
	if a.isTerminal == nil || !a.isTerminal() {
		return fmt.Errorf("%w: standard input is not a terminal to confirm at: add --yes to delete", errUsage)
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	answer, err := readLine(a.stdin)
	if err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errDeclined
}

// pageFlags are --limit and --offset of the list commands, which page as
// the API does, with its default and maximum limit, so that --json prints
// exactly the API's page.
type pageFlags struct{ limit, offset int }

func addPageFlags(fs *flag.FlagSet, what string) *pageFlags {
	pf := &pageFlags{}
	fs.IntVar(&pf.limit, "limit", keywarden.DefaultPageLimit, fmt.Sprintf("list at most this many %s (1 to %d), as the API's limit", what, keywarden.MaxPageLimit))
	fs.IntVar(&pf.offset, "offset", 0, fmt.Sprintf("skip this many %s first, as the API's offset", what))
	return pf
}

func (pf *pageFlags) page() (keywarden.Page, error) {
	switch {
	case pf.limit < 1 || pf.limit > keywarden.MaxPageLimit:
		return keywarden.Page{}, fmt.Errorf("%w: --limit %d: want 1 to %d", errUsage, pf.limit, keywarden.MaxPageLimit)
	case pf.offset < 0:
		return keywarden.Page{}, fmt.Errorf("%w: --offset %d: want 0 or more", errUsage, pf.offset)
	}
	return keywarden.Page{Offset: pf.offset, Limit: pf.limit}, nil
}

// more tells, on stderr, that a table of n rows from --offset does not show
// all total: the next page is one flag away.
func (pf *pageFlags) more(a *app, n, total int) {
	if next := pf.offset + n; n > 0 && next < total {
		fmt.Fprintf(a.stderr, "Showing %d–%d of %d: run again with --offset %d for more.\n", pf.offset+1, next, total, next)
	}
}
