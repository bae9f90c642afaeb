package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// GroupPrefix starts the conversation name of a group chat on the page ("#homegroup"):
// the scheduled reports and alerts the bot pushes to a group (appchat) or a robot. Nobody
// types there, as nobody types to a WeCom robot's messages.
const GroupPrefix = "#"

// Action is a button the page offers besides the chat, for the demo: "pve2 goes offline",
// "send the morning report now". Run's error text is shown to the person who pressed it.
type Action struct {
	ID    string                          `json:"id"`
	Label string                          `json:"label"`
	Run   func(ctx context.Context) error `json:"-"`
}

// PushGroup shows a message pushed to group chat (or robot) name in that group's pane, as
// WeCom would: markdown renders, text does not.
func (c *Console) PushGroup(name, msgtype, content string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.groupLocked(name)
	form := "text"
	if msgtype == "markdown" {
		form = "list"
	}
	c.appendLocked(t, &Entry{From: "bot", Card: &Card{Form: form, Kind: "list", Lines: strings.Split(content, "\n")}})
}

// PushGroupImage shows a picture pushed to group chat name (a summary's chart).
func (c *Console) PushGroupImage(name string, png []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appendLocked(c.groupLocked(name), imageEntry(png))
}

// groupLocked is the conversation of group chat name, listed on the page from now on.
func (c *Console) groupLocked(name string) *thread {
	key := strings.ToLower(GroupPrefix + name)
	if !slices.Contains(c.groups, name) {
		c.groups = append(c.groups, name)
	}
	t, ok := c.threads[key]
	if !ok {
		t = &thread{codes: map[string]int64{}}
		c.threads[key] = t
	}
	return t
}

// AddGroup lists group chat name on the page before anything was pushed to it.
func (c *Console) AddGroup(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.groups, name) {
		c.groups = append(c.groups, name)
	}
}

func isGroup(name string) bool {
	return strings.HasPrefix(name, GroupPrefix) && validUser(strings.TrimPrefix(name, GroupPrefix))
}

type actionRequest struct {
	ID string `json:"id"`
}

func (c *Console) apiAction(w http.ResponseWriter, r *http.Request) {
	var req actionRequest
	if !readJSON(w, r, &req) {
		return
	}
	i := slices.IndexFunc(c.o.Actions, func(a Action) bool { return a.ID == req.ID })
	if i < 0 || c.o.Actions[i].Run == nil {
		writeJSON(w, http.StatusNotFound, apiError{"no such action"})
		return
	}
	if err := c.o.Actions[i].Run(r.Context()); err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		writeJSON(w, http.StatusConflict, apiError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}
