package server

import "github.com/keywarden/keywarden"

// revokeAllView is the "Revoke all keys" section of a key page.
type revokeAllView struct {
	Show  bool
	Level keywarden.Level
	Name  string // what the person types to confirm: the process's or the organization's name
	Path  string // the API call the dialog posts to
	Keys  int    // the page's keys: the process's, or the organization's own
}

// revokeAllSection returns the section of the key page of processID (the
// organization's when empty), whose keys are at apiPath and number total.
// Only people who may manage those keys see it. A process page shows it
// when the process has keys; the organization page always, since the
// revocation also reaches the keys of every process, which it does not
// list.
func revokeAllSection(v *view, processID, apiPath string, total int) revokeAllView {
	r := revokeAllView{Level: keywarden.LevelOrganization, Name: v.Org.Name, Path: apiPath + "/revoke-all", Keys: total}
	manage := keywarden.ScopeAdminAPIKeyManage
	if processID != "" {
		r.Level, r.Name, manage = keywarden.LevelProcess, v.Process.Name, keywarden.ScopeProcessAPIKeyManage
	}
	r.Show = v.Principal.HasScopeOn(processID, manage) && (processID == "" || total > 0)
	return r
}
