package wecom_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// answer is what a sender sees of the callback's reply.
type answer struct {
	status int
	body   string
}

// tokenHolder is an attacker who holds the callback Token (and the public corp id and
// agent id) but not the EncodingAESKey, and talks to the callback handler h.
type tokenHolder struct {
	t       *testing.T
	h       http.Handler
	signer  *wecomtest.Sender // Envelope signs with the Token only
	queries int
}

func newTokenHolder(t *testing.T, h http.Handler) *tokenHolder {
	return &tokenHolder{t: t, h: h, signer: &wecomtest.Sender{Token: testToken, CorpID: testCorpID, AgentID: testAgent}}
}

// post sends ct, correctly signed, as a callback.
func (a *tokenHolder) post(ct []byte) answer {
	a.queries++
	q, body := a.signer.Envelope(base64.StdEncoding.EncodeToString(ct), fmt.Sprint(testNow.Unix()), fmt.Sprint(a.queries))
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, postReq(q, body))
	return answer{rec.Code, rec.Body.String()}
}

// intermediate learns D(x), the AES decryption of block x, with the classic padding
// oracle: probe = captured[:32] | zero filler | r | x. The captured prefix keeps the
// inner length small, so a probe whose last block ends in valid padding gets past the
// padding check; an answer that differs from the usual one marks that. ok is false when
// no answer differs.
func (a *tokenHolder) intermediate(captured []byte, x []byte) (d [16]byte, ok bool) {
	probe := make([]byte, len(captured)+64)
	copy(probe, captured[:32])
	r := probe[len(probe)-32 : len(probe)-16]
	copy(probe[len(probe)-16:], x)
	for k := 15; k >= 0; k-- {
		p := byte(16 - k)
		for j := k + 1; j < 16; j++ {
			r[j] = d[j] ^ p
		}
		var answers [256]answer
		count := map[answer]int{}
		for g := range answers {
			r[k] = byte(g)
			answers[g] = a.post(probe)
			count[answers[g]]++
		}
		var usual answer
		for ans, n := range count {
			if n > count[usual] {
				usual = ans
			}
		}
		hit := -1
		for g, ans := range answers {
			if ans == usual {
				continue
			}
			r[k] = byte(g)
			if k == 15 { // rule out a longer padding by chance: change the byte before
				r[14] ^= 0xff
				still := a.post(probe) == ans
				r[14] ^= 0xff
				if !still {
					continue
				}
			}
			hit = g
			break
		}
		if hit < 0 {
			return d, false
		}
		d[k] = byte(hit) ^ p
	}
	return d, true
}

// newCallbackAt is the test app's handler on the clock now, logging to log.
func newCallbackAt(now func() time.Time, log *zap.Logger) (http.Handler, error) {
	return wecom.NewCallback(wecom.CallbackConfig{
		Token: testToken, EncodingAESKey: testAESKey, CorpID: testCorpID, AgentID: testAgent,
		MaxClockSkew: 10 * time.Minute, Now: now,
	}, &recInbox{}, log)
}

// TestCallbackNoPaddingOracle plays the CBC-R attack against the handler: holding only the
// Token and one captured callback, learn the plaintext of a captured block, then forge
// `vm start 105` as zhangsan. Every signed probe must get the same answer, so the attack
// learns nothing and the forged callback never reaches the inbox.
func TestCallbackNoPaddingOracle(t *testing.T) {
	inbox := &recInbox{}
	h := newTestCallback(t, 10*time.Minute, inbox, nil)
	s := testSender(0)
	_, body := s.Build(s.TextXML("zhangsan", "vm stop truenas -- secret plan", "7001"))
	var env struct {
		Encrypt string `xml:"Encrypt"`
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	captured, err := base64.StdEncoding.DecodeString(env.Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	a := newTokenHolder(t, h)

	// Decrypt the captured callback's second AES block: P1 = D(C1) xor C0.
	d, ok := a.intermediate(captured, captured[16:32])
	if ok {
		var p [16]byte
		for i := range p {
			p[i] = d[i] ^ captured[i]
		}
		t.Errorf("after %d signed probes the attacker decrypted a captured block: %q", a.queries, p[4:])
	}
	if !ok {
		t.Logf("no answer differed in %d signed probes: nothing learnt", a.queries)
		return
	}

	// CBC-R: choose the plaintext, walk back from an arbitrary last block.
	msg := []byte("<xml><FromUserName>zhangsan</FromUserName><MsgType>text</MsgType><Content>vm start 105</Content><MsgId>9001</MsgId></xml>")
	plain := make([]byte, 20, 256)
	binary.BigEndian.PutUint32(plain[16:20], uint32(len(msg)))
	plain = append(append(plain, msg...), testCorpID...)
	pad := 32 - len(plain)%32
	plain = append(plain, []byte(strings.Repeat(string(rune(pad)), pad))...)
	forged := make([]byte, len(plain))
	for i := len(plain)/16 - 1; i >= 1; i-- {
		d, ok := a.intermediate(captured, forged[i*16:i*16+16])
		if !ok {
			t.Fatalf("forging block %d failed after %d probes", i, a.queries)
		}
		for j := 0; j < 16; j++ {
			forged[(i-1)*16+j] = d[j] ^ plain[i*16+j]
		}
	}
	got := a.post(forged)
	t.Errorf("forged callback after %d signed probes, without the EncodingAESKey: answer %d, inbox %+v",
		a.queries, got.status, inbox.messages())
}

// TestCallbackSignedFailuresAnswerAlike: whatever goes wrong after the signature holds, the
// answer is the one a bad signature gets, so a Token holder cannot tell the failures apart.
func TestCallbackSignedFailuresAnswerAlike(t *testing.T) {
	s := testSender(0)
	ts := fmt.Sprint(testNow.Unix())
	repeat := func(b byte, n int) []byte { return []byte(strings.Repeat(string(rune(b)), n)) }
	good := s.TextXML("zhangsan", plainMarker, "42")
	sealed := func(msg []byte) string { return sealFixed(t, msg) }
	capturedPost := func() string {
		_, body := s.Build(good)
		var env struct {
			Encrypt string `xml:"Encrypt"`
		}
		if err := xml.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		return env.Encrypt
	}()

	post := func(enc string) *http.Request { return postReq(s.Envelope(enc, ts, "1")) }
	get := func(enc string) *http.Request { return getReq(s.VerifyQuery(enc, ts, "1")) }
	badSig := func() *http.Request {
		q, b := s.Envelope(sealed(good), ts, "1")
		q.Set("msg_signature", flip(q.Get("msg_signature")))
		return postReq(q, b)
	}
	cases := []struct {
		name string
		req  *http.Request
	}{
		{"bad padding", post(rawCiphertext(t, framed(2, "hi", testCorpID, append(repeat(23, 23), 24))))},
		{"pad byte 0", post(rawCiphertext(t, framed(2, "hi", testCorpID, append(repeat(24, 23), 0))))},
		{"all padding", post(rawCiphertext(t, repeat(32, 32)))},
		{"bad length prefix", post(rawCiphertext(t, framed(1<<31, "hi", testCorpID, repeat(24, 24))))},
		{"wrong receive id", post(rawCiphertext(t, framed(2, "hi", "ww0123456789abcdeX", repeat(24, 24))))},
		{"broken inner xml", post(sealed([]byte("<xml><FromUserName>zhangsan</Fr")))},
		{"inner AgentID of another app", post(sealed([]byte(strings.Replace(string(good), "1000002", "999", 1))))},
		{"not a ciphertext", post("aGVsbG8gd29ybGQ=")},
		{"not base64", post("%%not*base64%%")},
		{"GET of a captured POST's Encrypt", get(capturedPost)},
		{"GET of markup", get(sealed([]byte("<b>1234</b>")))},
		{"GET of a long echostr", get(sealed(repeat('7', 65)))},
		{"GET bad padding", get(rawCiphertext(t, framed(2, "hi", testCorpID, append(repeat(23, 23), 24))))},
		{"GET wrong receive id", get(rawCiphertext(t, framed(2, "12", "ww0123456789abcdeX", repeat(24, 24))))},
	}
	h := newTestCallback(t, 10*time.Minute, &recInbox{}, nil)
	do := func(r *http.Request) answer {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return answer{rec.Code, rec.Body.String()}
	}
	want := do(badSig())
	if want.status != http.StatusForbidden {
		t.Fatalf("bad signature answer = %+v, want 403", want)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := do(c.req); got != want {
				t.Errorf("answer = %+v, want %+v (the bad signature's)", got, want)
			}
		})
	}
	// The same frames, well-formed, are accepted: each case above differs in one place.
	if got := do(get(sealed([]byte("1616140317555161061")))); got.status != http.StatusOK || got.body != "1616140317555161061" {
		t.Errorf("GET of a well-formed echostr = %+v, want 200 and the echostr", got)
	}
	if got := do(post(sealed(good))); got.status != http.StatusOK {
		t.Errorf("POST of a well-formed message = %+v, want 200", got)
	}
}

// TestCallbackUndecryptableAlarm: a burst of signed callbacks that do not decrypt logs one
// error naming the likely cause and what to do; more of them within the alarm interval add
// no second error, and a burst after it does.
func TestCallbackUndecryptableAlarm(t *testing.T) {
	now := testNow
	core, logs := observer.New(zapcore.WarnLevel)
	h, err := newCallbackAt(func() time.Time { return now }, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	s := testSender(0)
	send := func(n int) {
		for i := 0; i < n; i++ {
			q, b := s.Envelope(rawCiphertext(t, make([]byte, 64)), fmt.Sprint(now.Unix()), fmt.Sprint(i))
			h.ServeHTTP(httptest.NewRecorder(), postReq(q, b))
		}
	}
	errorLogs := func() []observer.LoggedEntry { return logs.FilterLevelExact(zapcore.ErrorLevel).All() }

	send(3)
	if n := len(errorLogs()); n != 0 {
		t.Fatalf("3 undecryptable callbacks logged %d errors, want none (not a burst)", n)
	}
	send(20)
	errs := errorLogs()
	if len(errs) != 1 {
		t.Fatalf("a burst of 23 logged %d errors, want exactly 1", len(errs))
	}
	for _, want := range []string{"the callback Token may have leaked", "rotate Token and EncodingAESKey in the WeCom admin console"} {
		if !strings.Contains(errs[0].Message, want) {
			t.Errorf("alarm %q does not say %q", errs[0].Message, want)
		}
	}
	now = now.Add(5 * time.Minute)
	send(20)
	if n := len(errorLogs()); n != 1 {
		t.Errorf("a second burst 5 min later logged %d errors in all, want still 1 (rate-limited)", n)
	}
	now = now.Add(11 * time.Minute)
	send(20)
	if n := len(errorLogs()); n != 2 {
		t.Errorf("a burst 16 min after the first alarm logged %d errors in all, want 2", n)
	}
	// Bad signatures are not the alarm's business: anyone can send them.
	now = now.Add(time.Hour)
	for i := 0; i < 30; i++ {
		q, b := s.Envelope(rawCiphertext(t, make([]byte, 64)), fmt.Sprint(now.Unix()), fmt.Sprint(i))
		q.Set("msg_signature", flip(q.Get("msg_signature")))
		h.ServeHTTP(httptest.NewRecorder(), postReq(q, b))
	}
	if n := len(errorLogs()); n != 2 {
		t.Errorf("unsigned junk raised the alarm: %d errors in all, want 2", n)
	}
}

// BenchmarkCallbackSignedFailures measures each signed failure next to an accepted
// message: the failures do the same work (decrypt, parse, both AgentID checks), so their
// times should not tell them apart.
func BenchmarkCallbackSignedFailures(b *testing.B) {
	h := newTestCallback(b, 10*time.Minute, &recInbox{}, zap.NewNop())
	s := testSender(0)
	ts := fmt.Sprint(testNow.Unix())
	repeat := func(c byte, n int) []byte { return []byte(strings.Repeat(string(rune(c)), n)) }
	body := s.TextXML("zhangsan", "vm start 101", "42")
	for _, c := range []struct {
		name string
		enc  string
		want int
	}{
		{"accepted", sealFixed(b, body), http.StatusOK},
		{"bad padding", rawCiphertext(b, framed(2, "hi", testCorpID, append(repeat(23, 23), 24))), http.StatusForbidden},
		{"bad length prefix", rawCiphertext(b, framed(1<<31, "hi", testCorpID, repeat(24, 24))), http.StatusForbidden},
		{"wrong receive id", rawCiphertext(b, framed(2, "hi", "ww0123456789abcdeX", repeat(24, 24))), http.StatusForbidden},
		{"broken inner xml", sealFixed(b, []byte("<xml><FromUserName>zhangsan</Fr")), http.StatusForbidden},
	} {
		q, env := s.Envelope(c.enc, ts, "1")
		target := "/wecom/callback?" + q.Encode()
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, bytes.NewReader(env)))
				if rec.Code != c.want {
					b.Fatalf("status %d, want %d", rec.Code, c.want)
				}
			}
		})
	}
}
