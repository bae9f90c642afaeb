package wecom

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

const uploadPath = "/cgi-bin/media/upload"

func testPNG(t testing.TB, shade uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	img.Set(0, 0, color.Gray{Y: 255 - shade})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// clock is a settable time for both sides, to step over a media_id's 3-day lifetime.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSendImageUploadsOnceWithinLifetime(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	srv := wecomtest.NewServer(t, wecomtest.WithServerClock(clk.Now))
	srv.AddChat("ops", "ops", "zhangsan", "zhangsan", "lisi")
	c, _ := newOutClient(t, srv, func(cfg *ClientConfig) { cfg.Now = clk.Now })
	ctx := context.Background()
	pic := testPNG(t, 10)
	if err := c.SendImage(ctx, []string{"zhangsan"}, pic); err != nil {
		t.Fatal(err)
	}
	if err := c.AppChatSendImage(ctx, "ops", pic); err != nil {
		t.Fatal(err)
	}
	if n := callsTo(srv, uploadPath); n != 1 {
		t.Errorf("uploads = %d, want 1 (the same picture reuses its media_id)", n)
	}
	ups := srv.Uploads()
	if len(ups) != 1 || !bytes.Equal(ups[0].Data, pic) || ups[0].Type != "image" || ups[0].Filename == "" {
		t.Fatalf("uploads = %+v, want the picture as type image with a filename", ups)
	}
	sent := srv.Sent()
	if len(sent) != 2 || sent[0].MsgType != "image" || sent[0].MediaID != ups[0].MediaID || sent[0].ToUser[0] != "zhangsan" ||
		sent[1].Via != "appchat" || sent[1].MediaID != ups[0].MediaID {
		t.Fatalf("sent = %+v, want an app and an appchat image with the uploaded media_id", sent)
	}
	// Another picture is another upload; the first one again after 3 days too.
	if err := c.SendImage(ctx, []string{"zhangsan"}, testPNG(t, 20)); err != nil {
		t.Fatal(err)
	}
	clk.Add(3*24*time.Hour - 30*time.Minute)
	if err := c.SendImage(ctx, []string{"zhangsan"}, pic); err != nil {
		t.Fatal(err)
	}
	if n := callsTo(srv, uploadPath); n != 3 {
		t.Errorf("uploads = %d, want 3 (a new picture, then the old one near its expiry)", n)
	}
}

// A media_id WeCom no longer knows (it expired, or the fake was told so) is uploaded
// again once instead of failing the send.
func TestSendImageReuploadsARefusedMediaID(t *testing.T) {
	srv := wecomtest.NewServer(t)
	c, _ := newOutClient(t, srv)
	ctx := context.Background()
	pic := testPNG(t, 30)
	if err := c.SendImage(ctx, []string{"zhangsan"}, pic); err != nil {
		t.Fatal(err)
	}
	srv.ExpireMedia(srv.Uploads()[0].MediaID)
	if err := c.SendImage(ctx, []string{"zhangsan"}, pic); err != nil {
		t.Fatalf("send after expiry: %v", err)
	}
	var refused int
	for _, call := range srv.Calls() {
		if call.Path == sendPath && call.ErrCode == wecomtest.ErrcodeInvalidMediaID {
			refused++
		}
	}
	if refused != 1 || callsTo(srv, uploadPath) != 2 || len(srv.Sent()) != 2 {
		t.Errorf("refused %d, uploads %d, sent %d: want 1, 2, 2", refused, callsTo(srv, uploadPath), len(srv.Sent()))
	}
}

func TestRobotSendImage(t *testing.T) {
	srv := wecomtest.NewServer(t, wecomtest.WithRobotKeys("robot-key-fake-0001"))
	c, _ := newOutClient(t, srv)
	pic := testPNG(t, 40)
	if err := c.RobotSendImage(context.Background(), "robot-key-fake-0001", pic); err != nil {
		t.Fatal(err)
	}
	sent := srv.Sent()
	if len(sent) != 1 || sent[0].Via != "robot" || sent[0].MsgType != "image" || !bytes.Equal(sent[0].Image, pic) {
		t.Fatalf("sent = %+v, want the picture by base64", sent)
	}
	if callsTo(srv, uploadPath) != 0 {
		t.Error("a robot picture was uploaded: robots take base64")
	}
}

// What WeCom refuses is refused before any request; what the fake refuses comes back
// with WeCom's errcode.
func TestImageLimits(t *testing.T) {
	srv := wecomtest.NewServer(t, wecomtest.WithRobotKeys("robot-key-fake-0001"))
	c, _ := newOutClient(t, srv)
	ctx := context.Background()
	big := append(testPNG(t, 1), make([]byte, MaxImageBytes)...)
	for name, data := range map[string][]byte{"tiny": []byte("\x89PNG"), "not an image": []byte("GIF89a........"), "too big": big} {
		if err := c.SendImage(ctx, []string{"zhangsan"}, data); err == nil {
			t.Errorf("%s: want an error", name)
		}
		if err := c.RobotSendImage(ctx, "robot-key-fake-0001", data); err == nil {
			t.Errorf("%s robot: want an error", name)
		}
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d requests for refused pictures, want 0", n)
	}
	// Unknown media_id straight to the fake: refused with 40007.
	err := c.call(ctx, apiCall{op: "send image", method: "POST", path: sendPath, body: map[string]any{
		"touser": "zhangsan", "msgtype": "image", "agentid": srv.AgentID(), "image": map[string]string{"media_id": "nope"}}}, nil)
	if !strings.Contains(errString(err), "40007") {
		t.Errorf("unknown media_id: %v, want errcode 40007", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A reply with a picture sends the image first, then its text, in card and text mode,
// counting both in the member's budget; a failed upload leaves the text with a line
// saying the picture could not be sent.
func TestReplierSendsImageThenText(t *testing.T) {
	rep := chat.Reply{Kind: chat.ReplyText, Title: "homeassistant (101) 资源图（24 小时）",
		Lines: []string{"内存 24 小时内从 41% 升到 88%"}}
	for _, mode := range []string{"card", "text"} {
		t.Run(mode, func(t *testing.T) {
			srv := wecomtest.NewServer(t)
			c, _ := newOutClient(t, srv)
			r := NewReplier(c, mode, "zh", nil)
			rep := rep
			rep.Image = &chat.Image{PNG: testPNG(t, 50), Unsent: "图片未能发送，以下是文字说明。"}
			if err := r.Reply(context.Background(), "zhangsan", rep); err != nil {
				t.Fatal(err)
			}
			sent := srv.Sent()
			if len(sent) != 2 || sent[0].MsgType != "image" || sent[1].MsgType != "text" ||
				!strings.Contains(sent[1].Content, "41%") || strings.Contains(sent[1].Content, "未能发送") {
				t.Fatalf("sent = %+v, want the image then the reading", sent)
			}
		})
	}
	t.Run("upload fails", func(t *testing.T) {
		srv := wecomtest.NewServer(t)
		c, _ := newOutClient(t, srv)
		srv.FailNext(uploadPath, 45009, 1)
		rep := rep
		rep.Image = &chat.Image{PNG: testPNG(t, 60), Unsent: "图片未能发送，以下是文字说明。"}
		if err := NewReplier(c, "card", "zh", nil).Reply(context.Background(), "zhangsan", rep); err != nil {
			t.Fatal(err)
		}
		sent := srv.Sent()
		if len(sent) != 1 || sent[0].MsgType != "text" || !strings.HasPrefix(sent[0].Content, rep.Title) ||
			!strings.Contains(sent[0].Content, "图片未能发送") || !strings.Contains(sent[0].Content, "41%") {
			t.Fatalf("sent = %+v, want the text alone, saying the picture could not be sent", sent)
		}
	})
	t.Run("budget counts the image", func(t *testing.T) {
		srv := wecomtest.NewServer(t)
		c, _ := newOutClient(t, srv)
		r := NewReplier(c, "card", "zh", nil)
		r.UseBudget(NewBudget(1, time.Minute, nil))
		rep := rep
		rep.Image = &chat.Image{PNG: testPNG(t, 70), Unsent: "x"}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := r.Reply(ctx, "zhangsan", rep); err == nil {
			t.Fatal("an image and its text went out within a budget of one")
		}
		if n := len(srv.Sent()); n != 1 {
			t.Errorf("sent %d, want 1 (the image; the text waits for room)", n)
		}
	})
}
