// Package console is a local chat console: a small web page, served on loopback only, where
// one picks a configured user, types commands and sees the bot's replies rendered like WeCom
// cards (buttons and the confirmation flow work), next to the audit log. It stands in for
// WeCom in `bot demo` and `bot console`: the console is the app's chat.Replier, and what the
// page sends goes through the app's inbox exactly like a WeCom callback would.
package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// Inbox takes a message as if it came from a verified WeCom callback. *app.App implements it.
type Inbox interface {
	Handle(ctx context.Context, m chat.Message) error
}

// AuditLog gives the most recent audit entries. *store.Store implements it.
type AuditLog interface {
	RecentAudit(ctx context.Context, n int) ([]store.AuditEntry, error)
}

// User is one identity the page offers to act as.
type User struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

// Options configures a Console.
type Options struct {
	// Users are the identities offered on the page (the config's users).
	Users []User
	// Language is the config's language: "en" or "zh" (default).
	Language string
	// Banner is a short line shown in the page's header ("模拟集群" in the demo).
	Banner string
	Logger *zap.Logger
	Now    func() time.Time
	// MaxEntries bounds the messages kept per user (default 200); older ones are dropped.
	MaxEntries int
	// MaxWait bounds a long poll of /api/messages (default 5s, below the bot's 10s write timeout).
	MaxWait time.Duration
	// Actions are extra buttons on the page (the demo's "pve2 goes offline").
	Actions []Action
}

// Source is the chat.Message.Source of everything the console sends: when `serve` mounts
// the console next to WeCom (server.console), the replies to these messages, and the
// follow-ups of the actions they start, are routed back to the console instead of WeCom.
const Source = "console"

// IDPrefix starts the id of every message the console sends. The ids are the store's
// de-duplication keys, shared with WeCom's ("rc:…", "ev:…", numeric MsgIds): the prefix
// keeps them from ever colliding and tells a console message apart after a restart.
const IDPrefix = "console:"

// Visitor is the user id the page offers besides the configured users, to show how the bot
// treats someone it does not know.
const Visitor = "visitor"

// maxThreads bounds the users the console keeps messages for beyond the configured ones.
const maxExtraThreads = 16

// replaceNameBytes mirrors WeCom: a one-line text result up to this size greys the clicked
// card's buttons with it (update_template_card replace_name); a longer one replaces the card.
const replaceNameBytes = 60

// Entry is one message in a user's conversation: something the user typed, or a reply.
// Ver changes whenever the entry does (a clicked card greys out), so the page can ask
// for everything newer than what it has.
type Entry struct {
	ID   int64     `json:"id"`
	Ver  int64     `json:"ver"`
	From string    `json:"from"` // "user" | "bot"
	Time time.Time `json:"time"`
	Text string    `json:"text,omitempty"` // from the user
	// Error says why a typed message was not taken (queue full).
	Error string `json:"error,omitempty"`
	Card  *Card  `json:"card,omitempty"` // from the bot
}

// Card is a reply as the page shows it. Form follows how WeCom would show it: "card" (a
// template card: objects, results, confirmations), "list" (markdown) or "text".
type Card struct {
	Form     string   `json:"form"`
	Kind     string   `json:"kind"`
	Severity string   `json:"severity,omitempty"`
	Title    string   `json:"title,omitempty"`
	Fields   []Field  `json:"fields,omitempty"`
	Lines    []string `json:"lines,omitempty"`
	Footer   string   `json:"footer,omitempty"`
	Link     *Link    `json:"link,omitempty"`
	Buttons  []Button `json:"buttons,omitempty"`
	Code     string   `json:"code,omitempty"`
	Done     string   `json:"done,omitempty"`    // the greyed buttons' text after a click
	Pending  bool     `json:"pending,omitempty"` // a button was clicked, no answer yet
	Updated  bool     `json:"updated,omitempty"` // replaced by a click's result
	// Image is a picture message (form "image"), as a data: URL the page shows as is.
	Image string `json:"image,omitempty"`
}

// Field is one labelled value of a card.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Link is a page the reply points at (the guest in the PVE web UI); only http(s) URLs
// reach the page.
type Link struct {
	Text string `json:"text"`
	URL  string `json:"url"`
}

// Button is one button of a confirmation card.
type Button struct {
	Text  string `json:"text"`
	Key   string `json:"key"`
	Style int    `json:"style"`
}

type thread struct {
	entries []*Entry
	codes   map[string]int64 // response code -> clicked entry id (one use each)
}

// Console keeps each user's conversation in memory and serves the page and its API.
type Console struct {
	o     Options
	log   *zap.Logger
	users map[string]User // lower-case id

	mu      sync.Mutex
	inbox   Inbox
	audit   AuditLog
	seq     int64
	threads map[string]*thread // lower-case user id; group chats as GroupPrefix+name
	groups  []string           // group chats with a pane, in order of appearance
	changed chan struct{}      // closed and replaced on every change
}

var _ chat.Replier = (*Console)(nil)

// New returns a Console. It has no inbox until Attach: the app needs the console as its
// Replier before the app exists.
func New(o Options) *Console {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 200
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 5 * time.Second
	}
	o.Language = lang(o.Language)
	c := &Console{o: o, log: o.Logger, users: map[string]User{}, threads: map[string]*thread{}, changed: make(chan struct{})}
	for _, u := range o.Users {
		c.users[strings.ToLower(u.ID)] = u
	}
	return c
}

// SetUsers replaces the identities offered on the page (a config reload). What each may
// do follows the bot's own reloaded permissions; conversations are kept.
func (c *Console) SetUsers(users []User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.o.Users = append([]User(nil), users...)
	c.users = map[string]User{}
	for _, u := range users {
		c.users[strings.ToLower(u.ID)] = u
	}
}

// Attach connects the console to the bot's inbox and audit log.
func (c *Console) Attach(in Inbox, audit AuditLog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inbox, c.audit = in, audit
}

func lang(l string) string {
	if strings.EqualFold(strings.TrimSpace(l), "en") {
		return "en"
	}
	return "zh"
}

// errTooManyUsers refuses a conversation beyond the configured users and a few others.
var errTooManyUsers = errors.New("console: too many users")

// threadLocked returns user's conversation, creating it if there is room.
func (c *Console) threadLocked(user string) (*thread, error) {
	key := strings.ToLower(user)
	if t, ok := c.threads[key]; ok {
		return t, nil
	}
	if _, known := c.users[key]; !known {
		extra := 0
		for k := range c.threads {
			if _, ok := c.users[k]; !ok {
				extra++
			}
		}
		if extra >= maxExtraThreads {
			return nil, errTooManyUsers
		}
	}
	t := &thread{codes: map[string]int64{}}
	c.threads[key] = t
	return t, nil
}

// nextLocked returns a fresh version number and wakes the page's long polls.
func (c *Console) nextLocked() int64 {
	c.seq++
	close(c.changed)
	c.changed = make(chan struct{})
	return c.seq
}

func (c *Console) appendLocked(t *thread, e *Entry) {
	e.ID = c.nextLocked()
	e.Ver = e.ID
	e.Time = c.o.Now()
	t.entries = append(t.entries, e)
	if over := len(t.entries) - c.o.MaxEntries; over > 0 {
		for _, old := range t.entries[:over] {
			for code, id := range t.codes {
				if id == old.ID {
					delete(t.codes, code)
				}
			}
		}
		t.entries = append([]*Entry(nil), t.entries[over:]...)
	}
}

func (t *thread) find(id int64) *Entry {
	for _, e := range t.entries {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// Reply shows rep in user's conversation. With rep.UpdateCode it updates the clicked card
// the way WeCom's update_template_card does: a short one-line text greys its buttons with
// that text, a card replaces it, and a list (which a card cannot show) arrives as a new
// message. A code that is unknown or spent also makes a new message, as in WeCom.
func (c *Console) Reply(_ context.Context, user string, rep chat.Reply) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.threadLocked(user)
	if err != nil {
		c.log.Warn("reply dropped: too many users", zap.String("user", user))
		return err
	}
	if rep.UpdateCode != "" {
		id, ok := t.codes[rep.UpdateCode]
		delete(t.codes, rep.UpdateCode)
		if e := t.find(id); ok && e != nil && e.Card != nil {
			e.Card.Pending = false
			switch {
			case rep.Kind == chat.ReplyList:
				// WeCom cannot show a list in a card: the clicked card stays, the list is new.
			case rep.Kind == chat.ReplyText && oneLine(rep) != "":
				e.Card.Done = oneLine(rep)
				e.Ver = c.nextLocked()
				return nil
			default:
				e.Card = cardOf(rep)
				e.Card.Updated = true
				e.Ver = c.nextLocked()
				return nil
			}
			e.Ver = c.nextLocked()
		}
	}
	if rep.Image != nil {
		// Like WeCom: the picture is a message of its own, before the text.
		c.appendLocked(t, imageEntry(rep.Image.PNG))
		if rep.Title == "" && len(rep.Lines) == 0 && len(rep.Fields) == 0 && rep.Footer == "" {
			return nil // a picture alone (a pushed chart)
		}
	}
	c.appendLocked(t, &Entry{From: "bot", Card: cardOf(rep)})
	return nil
}

// imageEntry is a picture message: the PNG as a data: URL the page shows as is.
func imageEntry(png []byte) *Entry {
	return &Entry{From: "bot", Card: &Card{Form: "image", Kind: "image",
		Image: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)}}
}

// oneLine is rep as a single short line (WeCom's replace_name), or "" when it is not one.
func oneLine(rep chat.Reply) string {
	var parts []string
	if rep.Title != "" {
		parts = append(parts, rep.Title)
	}
	for _, f := range rep.Fields {
		parts = append(parts, f.Label+f.Value)
	}
	parts = append(parts, rep.Lines...)
	if rep.Footer != "" {
		parts = append(parts, rep.Footer)
	}
	if len(parts) != 1 || len(parts[0]) > replaceNameBytes || strings.Contains(parts[0], "\n") {
		return ""
	}
	return parts[0]
}

// cardOf turns a reply into what the page draws; the form follows the WeCom renderer's
// choice in card mode.
func cardOf(rep chat.Reply) *Card {
	form := "text"
	switch {
	case rep.Kind == chat.ReplyCard || rep.Kind == chat.ReplyConfirm || len(rep.Buttons) > 0:
		form = "card"
	case rep.Kind == chat.ReplyList:
		form = "list"
	}
	// WeCom renders markdown only in markdown messages ("list"): cards and text show
	// it raw, and the WeCom renderer drops the bold markers there, so the console does too.
	plain := func(s string) string { return s }
	if form != "list" {
		plain = func(s string) string { return strings.ReplaceAll(s, "**", "") }
	}
	card := &Card{Form: form, Kind: string(rep.Kind), Severity: string(rep.Severity), Title: plain(rep.Title),
		Footer: plain(rep.Footer)}
	for _, l := range rep.Lines {
		card.Lines = append(card.Lines, plain(l))
	}
	for _, f := range rep.Fields {
		card.Fields = append(card.Fields, Field{Label: plain(f.Label), Value: plain(f.Value)})
	}
	if u := strings.ToLower(rep.Link.URL); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		card.Link = &Link{Text: rep.Link.Text, URL: rep.Link.URL}
	}
	if rep.Kind == chat.ReplyConfirm {
		card.Code = rep.Code
	}
	for _, b := range rep.Buttons {
		card.Buttons = append(card.Buttons, Button{Text: b.Text, Key: b.Key, Style: b.Style})
	}
	return card
}

// Entries returns a copy of user's conversation with versions above after (tests, the API).
func (c *Console) Entries(user string, after int64) []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entriesLocked(user, after)
}

func (c *Console) entriesLocked(user string, after int64) []Entry {
	t, ok := c.threads[strings.ToLower(user)]
	if !ok {
		return nil
	}
	var out []Entry
	for _, e := range t.entries {
		if e.Ver > after {
			cp := *e
			if e.Card != nil {
				card := *e.Card
				cp.Card = &card
			}
			out = append(out, cp)
		}
	}
	return out
}

// newID returns a fresh random id: message ids are the inbox's de-duplication keys, and a
// response code must not be guessable, as in WeCom.
func newID(prefix string) string { return prefix + rand.Text() }
