package wecom

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// MenuButton is one button of the app's menu as menu/create takes it: a leaf is a
// "click" button whose Key comes back in the click event (the bot runs it as a
// command); a top-level button with SubButtons opens them and has no type or key.
type MenuButton struct {
	Type       string       `json:"type,omitempty"`
	Name       string       `json:"name"`
	Key        string       `json:"key,omitempty"`
	SubButtons []MenuButton `json:"sub_button,omitempty"`
}

// ClickButton is a leaf button that sends key when tapped.
func ClickButton(name, key string) MenuButton { return MenuButton{Type: "click", Name: name, Key: key} }

// MenuCreate replaces the app's menu (menu/create?agentid=). WeCom applies it to every
// member within minutes; the limits (3 buttons, 5 sub-buttons, name and key lengths) are
// checked by the config (config.MenuItem), and WeCom answers an errcode when they are not.
func (c *Client) MenuCreate(ctx context.Context, buttons []MenuButton) error {
	if len(buttons) == 0 {
		return errors.New("wecom: menu create: no buttons")
	}
	body := struct {
		Button []MenuButton `json:"button"`
	}{buttons}
	return c.call(ctx, apiCall{op: "menu create", method: http.MethodPost, path: "/cgi-bin/menu/create",
		query: url.Values{"agentid": {strconv.Itoa(c.agentID)}}, body: body}, nil)
}
