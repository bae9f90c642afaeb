package smartbot

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// The official sample EncodingAESKey of WeCom's crypto pages (a fake value).
const (
	testToken = "QDG6eK"
	testKey   = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
)

// sealByHand builds a ciphertext the way P101033 describes, step by step, independent
// of both the bot and silenceper: random(16) | len(4) | msg | receiveID, PKCS#7 to 32,
// AES-256-CBC with IV = key[:16], base64.
func sealByHand(t *testing.T, msg, receiveID string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(testKey + "=")
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("0123456789abcdef")
	pt = binary.BigEndian.AppendUint32(pt, uint32(len(msg)))
	pt = append(pt, msg...)
	pt = append(pt, receiveID...)
	pad := 32 - len(pt)%32
	for range pad {
		pt = append(pt, byte(pad))
	}
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(pt, pt)
	return base64.StdEncoding.EncodeToString(pt)
}

func newTestWebhook(t *testing.T, accept AcceptFunc) (*Webhook, *wecomtest.SmartBotSender) {
	t.Helper()
	h, err := NewWebhook(WebhookOptions{Token: testToken, EncodingAESKey: testKey, BotName: "运维助手"}, accept)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, &wecomtest.SmartBotSender{URL: srv.URL, Token: testToken, EncodingAESKey: testKey, BotID: "aib-x"}
}

func TestDecryptVectorsWithTheEmptyReceiveID(t *testing.T) {
	h, _ := newTestWebhook(t, nil)
	msg := `{"msgid":"CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=","aibotid":"AIBOTID","chatid":"CHATID","chattype":"group","from":{"userid":"USERID"},"msgtype":"text","text":{"content":"@RobotA hello robot"}}`
	// By hand, and through silenceper's encrypt with "" (what WeCom's own libraries do).
	key, _ := base64.StdEncoding.DecodeString(testKey + "=")
	vectors := map[string]string{
		"by hand":    sealByHand(t, msg, ""),
		"silenceper": base64.StdEncoding.EncodeToString(util.AESEncryptMsg([]byte("fedcba9876543210"), []byte(msg), "", key)),
	}
	for name, enc := range vectors {
		got, err := h.crypto.DecryptFor(enc, "")
		if err != nil || string(got) != msg {
			t.Errorf("%s: decrypt = %q, %v", name, got, err)
		}
	}
	// silenceper's own decrypt cannot read them: why we have ours (wecom-features.md §1.3).
	if _, _, err := util.DecryptMsg("", vectors["by hand"], testKey); err == nil {
		t.Log("silenceper now decrypts an empty receive id")
	}
}

func TestEveryPostSignatureFailureGetsTheSameAnswer(t *testing.T) {
	_, s := newTestWebhook(t, func(context.Context, chat.Message) error { return nil })
	ctx := context.Background()
	goodJSON := `{"msgid":"m1","from":{"userid":"u"},"msgtype":"text","text":{"content":"help"}}`
	cases := map[string]string{
		"not base64":         "%%%not-base64%%%",
		"short":              base64.StdEncoding.EncodeToString([]byte("short")),
		"not a block length": base64.StdEncoding.EncodeToString(make([]byte, 48)),
		"bad padding":        base64.StdEncoding.EncodeToString(make([]byte, 64)),
		"for a corp id":      sealByHand(t, goodJSON, "ww0123456789"),
		"plaintext not JSON": sealByHand(t, "<xml>not json</xml>", ""),
	}
	var first string
	for name, enc := range cases {
		q, body := envelope(s, enc)
		status, resp, err := s.PostRaw(ctx, q, body)
		if err != nil {
			t.Fatal(err)
		}
		got := string(resp)
		if status != 403 {
			t.Errorf("%s: HTTP %d, want 403 (like a bad signature)", name, status)
		}
		if first == "" {
			first = got
		} else if got != first {
			t.Errorf("%s: answer %q differs from %q", name, got, first)
		}
	}
	// A wrong signature is refused before anything is decrypted.
	q, body := envelope(s, sealByHand(t, goodJSON, ""))
	q.Set("msg_signature", strings.Repeat("0", 40))
	status, resp, _ := s.PostRaw(ctx, q, body)
	if status != 403 || string(resp) != first {
		t.Errorf("wrong signature: HTTP %d %q, want 403 and the same answer %q", status, resp, first)
	}
}

// TestVerificationEchoesOnlyEchostrs: holding the Token, a GET with a captured callback's
// encrypt as echostr must not return the decrypted message.
func TestVerificationEchoesOnlyEchostrs(t *testing.T) {
	_, s := newTestWebhook(t, func(context.Context, chat.Message) error { return nil })
	ctx := context.Background()
	secret := `{"msgid":"m9","from":{"userid":"zhangsan"},"msgtype":"text","text":{"content":"vm start 105"}}`
	for name, tc := range map[string]struct {
		plain string
		want  int
	}{"echostr": {"1616140317555161061", 200}, "captured message": {secret, 403}} {
		status, body, err := s.Verify(ctx, tc.plain)
		if err != nil {
			t.Fatal(err)
		}
		if status != tc.want || (tc.want == 200) != (body == tc.plain) {
			t.Errorf("%s: HTTP %d %q, want %d", name, status, body, tc.want)
		}
	}
}

func TestStaleTimestampIsRefused(t *testing.T) {
	h, err := NewWebhook(WebhookOptions{Token: testToken, EncodingAESKey: testKey, MaxClockSkew: 10 * time.Minute,
		Now: func() time.Time { return time.Unix(1700000000, 0).Add(time.Hour) }}, func(context.Context, chat.Message) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := &wecomtest.SmartBotSender{URL: srv.URL, Token: testToken, EncodingAESKey: testKey}
	q, body := envelope(s, sealByHand(t, `{"msgid":"m","from":{"userid":"u"},"msgtype":"text","text":{"content":"help"}}`, ""))
	if status, _, _ := s.PostRaw(context.Background(), q, body); status != 403 {
		t.Errorf("an hour-old callback: HTTP %d, want 403", status)
	}
}

// envelope signs enc as WeCom would.
func envelope(s *wecomtest.SmartBotSender, enc string) (url.Values, []byte) {
	ts, nonce := "1700000000", "nonce123"
	q := url.Values{"msg_signature": {util.Signature(s.Token, ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
	return q, []byte(`{"encrypt":"` + enc + `"}`)
}

func TestURLVerification(t *testing.T) {
	_, s := newTestWebhook(t, nil)
	status, body, err := s.Verify(context.Background(), "1616140317555161061")
	if err != nil || status != 200 || body != "1616140317555161061" {
		t.Errorf("verify = %d %q %v, want the plain echostr", status, body, err)
	}
}

func TestWebhookMessageIsAnsweredInItsStream(t *testing.T) {
	var h *Webhook
	got := make(chan chat.Message, 4)
	h, s := newTestWebhook(t, func(ctx context.Context, m chat.Message) error {
		got <- m
		return nil
	})
	r := NewReplier(nil, h, "zh", nil, nil)
	// The "bot": answers each message in its stream, then finishes it.
	go func() {
		for m := range got {
			ctx := chat.WithSource(context.Background(), m.Source)
			_ = r.Reply(ctx, m.User, chat.Reply{Kind: chat.ReplyText, Title: "收到：" + m.Text})
			h.Finished(m.ID)
		}
	}()
	ctx := context.Background()
	rep, err := s.Text(ctx, "WangHao", "grp1", "@运维助手 vm list", "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.MsgType != "stream" || !strings.Contains(rep.Stream.Content, "收到：vm list") {
		t.Fatalf("passive reply = %+v", rep)
	}
	for !rep.Stream.Finish {
		if rep, err = s.Refresh(ctx, rep.Stream.ID); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(rep.Stream.Content, "收到：vm list") {
		t.Errorf("finished stream = %q", rep.Stream.Content)
	}
}
