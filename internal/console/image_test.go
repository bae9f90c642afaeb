package console

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// A reply with a picture shows the picture as a message of its own, before the text,
// the way WeCom delivers an image message and then the reading.
func TestReplyWithImage(t *testing.T) {
	c, _ := newTestConsole(t, Options{})
	pic := []byte("\x89PNG\r\n\x1a\nfake picture")
	err := c.Reply(context.Background(), "admin", chat.Reply{Kind: chat.ReplyText, Title: "homeassistant (101)",
		Lines: []string{"内存 24 小时内从 41% 升到 88%"}, Image: &chat.Image{PNG: pic}})
	if err != nil {
		t.Fatal(err)
	}
	got := messages(t, c, "admin", 0).Entries
	if len(got) != 2 || got[0].Card.Form != "image" || got[1].Card.Title != "homeassistant (101)" {
		t.Fatalf("entries = %+v, want the picture then the text", got)
	}
	want := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pic)
	if got[0].Card.Image != want {
		t.Errorf("image = %q, want the PNG as a data URL", got[0].Card.Image)
	}
	if strings.Contains(got[1].Card.Image, "data:") {
		t.Error("the text entry carries the picture too")
	}
}

// A pushed chart is a picture alone: in a user's conversation and in a group's pane.
func TestPushedPictureAlone(t *testing.T) {
	c, _ := newTestConsole(t, Options{})
	pic := []byte("\x89PNG\r\n\x1a\nchart")
	if err := c.Reply(context.Background(), "admin", chat.Reply{Kind: chat.ReplyText, Image: &chat.Image{PNG: pic}}); err != nil {
		t.Fatal(err)
	}
	if got := messages(t, c, "admin", 0).Entries; len(got) != 1 || got[0].Card.Form != "image" {
		t.Fatalf("entries = %+v, want the picture alone", got)
	}
	c.PushGroupImage("ops", pic)
	c.PushGroup("ops", "markdown", "**集群概览**")
	got := c.Entries(GroupPrefix+"ops", 0)
	if len(got) != 2 || got[0].Card.Form != "image" || got[1].Card.Form != "list" {
		t.Fatalf("group entries = %+v, want the picture then the report", got)
	}
}
