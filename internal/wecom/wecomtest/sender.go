package wecomtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// Sender plays WeCom's side of the callback: it shapes plaintext XML the way WeCom does,
// encrypts and signs it with the app's Token and EncodingAESKey and POSTs (or GETs) it to
// URL. It encrypts with silenceper's util directly, not with package wecom, so that tests
// check the bot's crypto against an independent implementation.
//
// Responses returned by its methods are the caller's to close.
type Sender struct {
	URL            string // the bot's callback URL
	Token          string
	EncodingAESKey string
	CorpID         string
	AgentID        int
	Client         *http.Client     // a client with a 10 s timeout when nil
	Now            func() time.Time // time.Now when nil; gives CreateTime and timestamp
}

// Text sends a text message from user with a fresh MsgId.
func (s *Sender) Text(ctx context.Context, user, content string) (*http.Response, error) {
	return s.TextWithID(ctx, user, content, randomDigits(19))
}

// TextWithID sends a text message with the given MsgId (a retry carries the same one).
func (s *Sender) TextWithID(ctx context.Context, user, content, msgID string) (*http.Response, error) {
	return s.Post(ctx, s.TextXML(user, content, msgID))
}

// Click sends a menu click event (Event "click") with eventKey.
func (s *Sender) Click(ctx context.Context, user, eventKey string) (*http.Response, error) {
	return s.Post(ctx, s.EventXML(user, "click", eventKey, ""))
}

// EnterAgent sends the enter_agent event of user opening the app.
func (s *Sender) EnterAgent(ctx context.Context, user string) (*http.Response, error) {
	return s.Post(ctx, s.EventXML(user, "enter_agent", "", ""))
}

// CardClick sends the template_card_event of user clicking the button eventKey on the
// button_interaction card taskID; responseCode is the one-time code to update the card.
func (s *Sender) CardClick(ctx context.Context, user, eventKey, taskID, responseCode string) (*http.Response, error) {
	extra := "<TaskId>" + cdata(taskID) + "</TaskId>" +
		"<CardType>" + cdata("button_interaction") + "</CardType>" +
		"<ResponseCode>" + cdata(responseCode) + "</ResponseCode>"
	return s.Post(ctx, s.EventXML(user, "template_card_event", eventKey, extra))
}

// TextXML returns the plaintext WeCom encrypts for a text message.
func (s *Sender) TextXML(user, content, msgID string) []byte {
	return []byte("<xml>" + s.head(user, "text") +
		"<Content>" + cdata(content) + "</Content>" +
		"<MsgId>" + msgID + "</MsgId>" +
		"<AgentID>" + strconv.Itoa(s.AgentID) + "</AgentID></xml>")
}

// EventXML returns the plaintext of an event; extra is raw XML placed after EventKey
// (TaskId, CardType, ResponseCode, SelectedItems...).
func (s *Sender) EventXML(user, event, eventKey, extra string) []byte {
	return []byte("<xml>" + s.head(user, "event") +
		"<Event>" + cdata(event) + "</Event>" +
		"<EventKey>" + cdata(eventKey) + "</EventKey>" + extra +
		"<AgentID>" + strconv.Itoa(s.AgentID) + "</AgentID></xml>")
}

func (s *Sender) head(user, msgType string) string {
	return "<ToUserName>" + cdata(s.CorpID) + "</ToUserName>" +
		"<FromUserName>" + cdata(user) + "</FromUserName>" +
		"<CreateTime>" + strconv.FormatInt(s.now().Unix(), 10) + "</CreateTime>" +
		"<MsgType>" + cdata(msgType) + "</MsgType>"
}

// Post encrypts and signs any plaintext XML and POSTs it like WeCom does.
func (s *Sender) Post(ctx context.Context, plaintextXML []byte) (*http.Response, error) {
	q, body, err := s.build(plaintextXML)
	if err != nil {
		return nil, err
	}
	return s.PostRaw(ctx, q, body)
}

// PostRaw POSTs body with query added to URL, for tests that tampered with a Build result.
func (s *Sender) PostRaw(ctx context.Context, query url.Values, body []byte) (*http.Response, error) {
	u, err := s.url(query)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("wecomtest: post: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml")
	return s.client().Do(req)
}

// Verify performs WeCom's URL verification (GET with an encrypted echostr) and returns the
// body the bot answered and its status. err is set for transport errors and when a 200
// answer is not exactly the echo string sent.
func (s *Sender) Verify(ctx context.Context) (echo string, status int, err error) {
	want := randomDigits(19)
	enc, err := s.encrypt([]byte(want))
	if err != nil {
		return "", 0, err
	}
	u, err := s.url(s.VerifyQuery(enc, strconv.FormatInt(s.now().Unix(), 10), randomDigits(10)))
	if err != nil {
		return "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, fmt.Errorf("wecomtest: verify: %w", err)
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("wecomtest: verify: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", resp.StatusCode, fmt.Errorf("wecomtest: verify: read: %w", err)
	}
	if resp.StatusCode == http.StatusOK && string(b) != want {
		return string(b), resp.StatusCode, errors.New("wecomtest: verify: answer is not the echostr sent")
	}
	return string(b), resp.StatusCode, nil
}

// VerifyQuery returns the signed query of a URL verification for an already encrypted
// echostr; URL encoding percent-encodes its '+', '/' and '=' as WeCom does.
func (s *Sender) VerifyQuery(echostr, timestamp, nonce string) url.Values {
	return url.Values{
		"msg_signature": {util.Signature(s.Token, timestamp, nonce, echostr)},
		"timestamp":     {timestamp},
		"nonce":         {nonce},
		"echostr":       {echostr},
	}
}

// Build encrypts plaintextXML and returns the signed query (msg_signature, timestamp,
// nonce) and the POST body, as WeCom would send them. It panics on a bad EncodingAESKey:
// the Sender is misconfigured test code.
func (s *Sender) Build(plaintextXML []byte) (query url.Values, body []byte) {
	q, b, err := s.build(plaintextXML)
	if err != nil {
		panic(err)
	}
	return q, b
}

// Envelope signs an already encrypted value with timestamp and nonce and wraps it in the
// POST body WeCom sends: <xml><ToUserName/><Encrypt/><AgentID/></xml>.
func (s *Sender) Envelope(encrypt, timestamp, nonce string) (query url.Values, body []byte) {
	q := url.Values{
		"msg_signature": {util.Signature(s.Token, timestamp, nonce, encrypt)},
		"timestamp":     {timestamp},
		"nonce":         {nonce},
	}
	body = []byte("<xml><ToUserName>" + cdata(s.CorpID) + "</ToUserName>" +
		"<Encrypt>" + cdata(encrypt) + "</Encrypt>" +
		"<AgentID>" + cdata(strconv.Itoa(s.AgentID)) + "</AgentID></xml>")
	return q, body
}

func (s *Sender) build(plaintextXML []byte) (url.Values, []byte, error) {
	enc, err := s.encrypt(plaintextXML)
	if err != nil {
		return nil, nil, err
	}
	q, b := s.Envelope(enc, strconv.FormatInt(s.now().Unix(), 10), randomDigits(10))
	return q, b, nil
}

func (s *Sender) encrypt(msg []byte) (string, error) {
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return "", fmt.Errorf("wecomtest: encrypt: %w", err)
	}
	enc, err := util.EncryptMsg(random, msg, s.CorpID, s.EncodingAESKey)
	if err != nil {
		// util's error names neither the key nor the message.
		return "", fmt.Errorf("wecomtest: encrypt: %w", err)
	}
	return string(enc), nil
}

func (s *Sender) url(q url.Values) (string, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return "", fmt.Errorf("wecomtest: bad url: %w", err)
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode() // percent-encodes '+', '/' and '=' as WeCom does
	return u.String(), nil
}

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// cdata wraps v in CDATA, splitting any "]]>" inside it as XML requires.
func cdata(v string) string {
	return "<![CDATA[" + strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>") + "]]>"
}

// randomDigits returns n random decimal digits, not starting with 0, like WeCom's
// MsgId, nonce and echo strings.
func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	for i := range b {
		b[i] = '0' + b[i]%10 // the slight bias does not matter for test ids
	}
	if n > 0 && b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}
