package wecomtest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// SmartBotSender plays WeCom's side of a smart bot's webhook (P101033): it encrypts the
// callback JSON for the empty receive id with silenceper's util (not with the bot's
// code), signs it, POSTs {"encrypt"} with msg_signature, timestamp and nonce, and
// decrypts and checks the passive reply (its signature, and that it reuses the nonce).
// Its ResponseURLs go to a recorder of its own, standing for WeCom's response_url.
type SmartBotSender struct {
	URL            string // the bot's smart-bot callback URL
	Token          string
	EncodingAESKey string
	BotID          string
	Client         *http.Client
	Now            func() time.Time

	mu        sync.Mutex
	recordURL string
	late      chan LateReply
}

// LateReply is one POST to a response_url.
type LateReply struct {
	Code    string // the response_code of the URL
	MsgType string
	Content string // markdown.content
}

// SmartBotReply is a decrypted passive reply ({} decrypts to an empty MsgType).
type SmartBotReply struct {
	MsgType string `json:"msgtype"`
	Stream  struct {
		ID      string `json:"id"`
		Finish  bool   `json:"finish"`
		Content string `json:"content"`
	} `json:"stream"`
}

// StartResponseURLs starts the response_url recorder; it stops with the test.
func (s *SmartBotSender) StartResponseURLs(t interface{ Cleanup(func()) }) {
	s.late = make(chan LateReply, 64)
	used := map[string]bool{}
	var mu sync.Mutex
	srv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get("response_code")
		mu.Lock()
		again := used[code]
		used[code] = true
		mu.Unlock()
		var b struct {
			MsgType  string `json:"msgtype"`
			Markdown struct {
				Content string `json:"content"`
			} `json:"markdown"`
		}
		_ = json.NewDecoder(r.Body).Decode(&b)
		w.Header().Set("Content-Type", "application/json")
		if again { // one call per URL (P101138); the error WeCom answers is not documented
			_, _ = w.Write([]byte(`{"errcode":40058,"errmsg":"response_url used"}`))
			return
		}
		s.late <- LateReply{Code: code, MsgType: b.MsgType, Content: b.Markdown.Content}
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})}
	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	s.mu.Lock()
	s.recordURL = ts.URL + "/cgi-bin/aibot/response"
	s.mu.Unlock()
}

// Late waits for the next POST to a response_url.
func (s *SmartBotSender) Late(ctx context.Context) (LateReply, error) {
	select {
	case l := <-s.late:
		return l, nil
	case <-ctx.Done():
		return LateReply{}, ctx.Err()
	}
}

// TextJSON is the plaintext of a text message (group when chatID is set).
func (s *SmartBotSender) TextJSON(user, chatID, text, msgID string) []byte {
	m := map[string]any{"msgid": msgID, "aibotid": s.BotID, "from": map[string]any{"userid": user},
		"msgtype": "text", "text": map[string]any{"content": text}, "chattype": "single"}
	if chatID != "" {
		m["chatid"], m["chattype"] = chatID, "group"
	}
	s.mu.Lock()
	if s.recordURL != "" {
		m["response_url"] = s.recordURL + "?response_code=" + msgID
	}
	s.mu.Unlock()
	b, _ := json.Marshal(m)
	return b
}

// RefreshJSON is the plaintext of WeCom asking for a stream's current content.
func (s *SmartBotSender) RefreshJSON(streamID string) []byte {
	b, _ := json.Marshal(map[string]any{"msgid": "refresh-" + randomDigits(12), "aibotid": s.BotID,
		"from": map[string]any{"userid": "someone"}, "chattype": "single", "msgtype": "stream", "stream": map[string]any{"id": streamID}})
	return b
}

// Text sends a member's text; chatID empty is a 1:1 chat. msgID empty: a fresh one.
func (s *SmartBotSender) Text(ctx context.Context, user, chatID, text, msgID string) (SmartBotReply, error) {
	if msgID == "" {
		msgID = "CAIQ" + randomDigits(16)
	}
	return s.Post(ctx, s.TextJSON(user, chatID, text, msgID))
}

// Refresh asks for a stream's state, as WeCom does until finish.
func (s *SmartBotSender) Refresh(ctx context.Context, streamID string) (SmartBotReply, error) {
	return s.Post(ctx, s.RefreshJSON(streamID))
}

// Post encrypts and posts plaintext JSON and returns the decrypted, checked reply.
func (s *SmartBotSender) Post(ctx context.Context, plaintext []byte) (SmartBotReply, error) {
	q, body, err := s.Build(plaintext)
	if err != nil {
		return SmartBotReply{}, err
	}
	status, resp, err := s.PostRaw(ctx, q, body)
	if err != nil {
		return SmartBotReply{}, err
	}
	if status != http.StatusOK {
		return SmartBotReply{}, fmt.Errorf("wecomtest: smartbot webhook: HTTP %d: %s", status, resp)
	}
	return s.open(resp, q.Get("nonce"))
}

// Build returns the query and body of a callback carrying plaintext.
func (s *SmartBotSender) Build(plaintext []byte) (url.Values, []byte, error) {
	enc, err := s.Encrypt(plaintext)
	if err != nil {
		return nil, nil, err
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	nonce := randomDigits(10)
	q := url.Values{"msg_signature": {util.Signature(s.Token, ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
	body, _ := json.Marshal(map[string]string{"encrypt": enc})
	return q, body, nil
}

// Encrypt encrypts msg for the empty receive id, as WeCom does for a smart bot.
func (s *SmartBotSender) Encrypt(msg []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(s.EncodingAESKey + "=")
	if err != nil {
		return "", err
	}
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(util.AESEncryptMsg(random, msg, "", key)), nil
}

// Verify runs the GET URL check with echostr and returns the bot's answer.
func (s *SmartBotSender) Verify(ctx context.Context, echo string) (status int, body string, err error) {
	enc, err := s.Encrypt([]byte(echo))
	if err != nil {
		return 0, "", err
	}
	ts, nonce := strconv.FormatInt(s.now().Unix(), 10), randomDigits(10)
	q := url.Values{"msg_signature": {util.Signature(s.Token, ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {enc}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"?"+q.Encode(), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// PostRaw posts body with query q and returns the status and body.
func (s *SmartBotSender) PostRaw(ctx context.Context, q url.Values, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, nil
}

// open checks and decrypts a passive reply.
func (s *SmartBotSender) open(resp []byte, nonce string) (SmartBotReply, error) {
	var env struct {
		Encrypt      string `json:"encrypt"`
		MsgSignature string `json:"msgsignature"`
		Timestamp    any    `json:"timestamp"`
		Nonce        string `json:"nonce"`
	}
	if err := json.Unmarshal(resp, &env); err != nil {
		return SmartBotReply{}, fmt.Errorf("wecomtest: smartbot reply is not JSON: %q", resp)
	}
	if env.Nonce != nonce {
		return SmartBotReply{}, fmt.Errorf("wecomtest: smartbot reply nonce %q, want the callback's %q", env.Nonce, nonce)
	}
	ts := fmt.Sprint(env.Timestamp)
	if util.Signature(s.Token, ts, env.Nonce, env.Encrypt) != env.MsgSignature {
		return SmartBotReply{}, errors.New("wecomtest: smartbot reply signature is wrong")
	}
	key, _ := base64.StdEncoding.DecodeString(s.EncodingAESKey + "=")
	ct, err := base64.StdEncoding.DecodeString(env.Encrypt)
	if err != nil || len(ct)%aes.BlockSize != 0 || len(ct) == 0 {
		return SmartBotReply{}, errors.New("wecomtest: smartbot reply ciphertext is malformed")
	}
	block, _ := aes.NewCipher(key)
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(ct, ct)
	pad := int(ct[len(ct)-1])
	if pad < 1 || pad > 32 || pad > len(ct)-20 {
		return SmartBotReply{}, errors.New("wecomtest: smartbot reply padding is wrong")
	}
	pt := ct[:len(ct)-pad]
	n := int(binary.BigEndian.Uint32(pt[16:20]))
	if 20+n != len(pt) {
		return SmartBotReply{}, fmt.Errorf("wecomtest: smartbot reply receive id is %q, want empty", pt[min(20+n, len(pt)):])
	}
	var r SmartBotReply
	if err := json.Unmarshal(pt[20:], &r); err != nil {
		return SmartBotReply{}, fmt.Errorf("wecomtest: smartbot reply plaintext: %w", err)
	}
	return r, nil
}

func (s *SmartBotSender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (s *SmartBotSender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
