package wecom

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no secret", "wecom: send: errcode 81013", "wecom: send: errcode 81013"},
		{"corpsecret", "GET https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww1&corpsecret=S3cr3t-x_y",
			"GET https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww1&corpsecret=***"},
		{"access token then more", `Post "http://127.0.0.1:1/cgi-bin/message/send?access_token=AbC.123&debug=1": EOF`,
			`Post "http://127.0.0.1:1/cgi-bin/message/send?access_token=***&debug=1": EOF`},
		{"robot key", "POST /cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa failed",
			"POST /cgi-bin/webhook/send?key=*** failed"},
		{"upper case", "ACCESS_TOKEN=abc CorpSecret=def", "ACCESS_TOKEN=*** CorpSecret=***"},
		{"escaped in nested url", "u=http%3A%2F%2Fx%2Fsend%3Faccess_token%3Dtok123%26a%3Db",
			"u=http%3A%2F%2Fx%2Fsend%3Faccess_token%3D***"},
		{"two params", "corpsecret=a&access_token=b", "corpsecret=***&access_token=***"},
		{"authorization header", "Authorization: PVEAPIToken=root@pam!bot=1234-5678\nnext",
			"Authorization: ***\nnext"},
		{"authorization json", `{"Authorization":"Bearer xyz","a":1}`, `{"Authorization":"***","a":1}`},
		{"key suffix names", "robot_key=abc", "robot_key=***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Scrub(tt.in); got != tt.want {
				t.Errorf("Scrub(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestScrubErrorKeepsChainWithoutSecrets(t *testing.T) {
	ue := &url.Error{Op: "Post", URL: "http://h/cgi-bin/message/send?access_token=TOKEN123", Err: context.Canceled}
	wrapped := fmt.Errorf("outer: %w", ue)
	err := scrubError("send", wrapped, "SECRETVALUE")
	if got := err.Error(); strings.Contains(got, "TOKEN123") || !strings.HasPrefix(got, "wecom: send: ") {
		t.Errorf("Error() = %q, want a wecom: send: prefix and no token", got)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) = false, want true")
	}
	var inner *url.Error
	if !errors.As(err, &inner) {
		t.Fatalf("errors.As(*url.Error) = false, want true")
	}
	if strings.Contains(inner.URL, "TOKEN123") {
		t.Errorf("unwrapped url.Error URL = %q, still holds the token", inner.URL)
	}
	// A literal credential outside any query string is redacted too.
	err = scrubError("send", errors.New("proxy said: SECRETVALUE is wrong"), "SECRETVALUE")
	if strings.Contains(err.Error(), "SECRETVALUE") {
		t.Errorf("Error() = %q, want the literal secret redacted", err.Error())
	}
}
