package wecom

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // WeCom's robot API asks for the md5 of the picture; not for security
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// Picture limits (docs: wecom-features.md §2). WeCom's page says 10 MB for an uploaded
// image, older copies 2 MB; robots take 2 MB. The bot keeps to 2 MB everywhere.
const (
	MaxImageBytes = 2 << 20
	minMediaBytes = 6 // "every file must be larger than 5 bytes"
	// mediaTTL is how long a media_id is valid (3 days); the bot uploads again an hour
	// before, so that a picture sent at the edge does not meet an expired id.
	mediaTTL    = 3 * 24 * time.Hour
	mediaMargin = time.Hour
)

// mediaCache remembers uploaded pictures by content, so that the same picture sent to
// several members or chats is uploaded once within its lifetime. The zero value is ready.
type mediaCache struct {
	mu  sync.Mutex
	ids map[[sha256.Size]byte]mediaEntry
}

type mediaEntry struct {
	id string
	at time.Time
}

func (m *mediaCache) get(key [sha256.Size]byte, now time.Time) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.ids[key]
	if !ok || now.Sub(e.at) >= mediaTTL-mediaMargin {
		return "", false
	}
	return e.id, true
}

func (m *mediaCache) put(key [sha256.Size]byte, id string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = map[[sha256.Size]byte]mediaEntry{}
	}
	for k, e := range m.ids { // forget what has expired: the cache stays small
		if at.Sub(e.at) >= mediaTTL {
			delete(m.ids, k)
		}
	}
	m.ids[key] = mediaEntry{id: id, at: at}
}

func (m *mediaCache) drop(key [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ids, key)
}

// imageType is the MIME type of a PNG or JPEG, "" for anything else.
func imageType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	}
	return ""
}

func checkImage(op string, b []byte) error {
	switch {
	case len(b) < minMediaBytes:
		return fmt.Errorf("wecom: %s: picture of %d bytes is too small", op, len(b))
	case len(b) > MaxImageBytes:
		return fmt.Errorf("wecom: %s: picture of %d bytes is over %d", op, len(b), MaxImageBytes)
	case imageType(b) == "":
		return fmt.Errorf("wecom: %s: picture is neither PNG nor JPEG", op)
	}
	return nil
}

// UploadImage uploads a PNG or JPEG as a temporary image (media/upload, type image) and
// returns its media_id, valid 3 days for every app of the corp.
func (c *Client) UploadImage(ctx context.Context, data []byte) (string, error) {
	if err := checkImage("upload image", data); err != nil {
		return "", err
	}
	ctype := imageType(data)
	name := "chart.png"
	if ctype == "image/jpeg" {
		name = "chart.jpg"
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="media"; filename="%s"; filelength=%d`, name, len(data)))
	h.Set("Content-Type", ctype)
	part, err := w.CreatePart(h)
	if err == nil {
		_, err = part.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return "", fmt.Errorf("wecom: upload image: %w", err)
	}
	var resp struct {
		apiStatus
		Type    string `json:"type"`
		MediaID string `json:"media_id"`
	}
	err = c.call(ctx, apiCall{op: "upload image", method: http.MethodPost, path: "/cgi-bin/media/upload",
		query: url.Values{"type": {"image"}}, raw: body.Bytes(), contentType: w.FormDataContentType()}, &resp)
	if err != nil {
		return "", err
	}
	if resp.MediaID == "" {
		return "", errors.New("wecom: upload image: answer has no media_id")
	}
	return resp.MediaID, nil
}

// imageID is the media_id of data: the one uploaded before while it is still valid, or a
// fresh upload.
func (c *Client) imageID(ctx context.Context, data []byte) (id string, key [sha256.Size]byte, err error) {
	key = sha256.Sum256(data)
	if id, ok := c.media.get(key, c.now()); ok {
		return id, key, nil
	}
	id, err = c.UploadImage(ctx, data)
	if err != nil {
		return "", key, err
	}
	c.media.put(key, id, c.now())
	return id, key, nil
}

// withImage runs send with data's media_id. When WeCom calls the id invalid (40007: it
// expired early, or another process's cache was wrong), it uploads once more and retries.
func (c *Client) withImage(ctx context.Context, data []byte, send func(id string) error) error {
	id, key, err := c.imageID(ctx, data)
	if err != nil {
		return err
	}
	err = send(id)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Code == errcodeInvalidMediaID {
		c.media.drop(key)
		if id, _, err = c.imageID(ctx, data); err != nil {
			return err
		}
		return send(id)
	}
	return err
}

// errcodeInvalidMediaID is WeCom's "invalid media_id" (40007).
const errcodeInvalidMediaID = 40007

type mediaBody struct {
	MediaID string `json:"media_id"`
}

// SendImage sends a picture to members as an app image message, uploading it first
// unless the same picture was uploaded within its lifetime.
func (c *Client) SendImage(ctx context.Context, touser []string, data []byte) error {
	if len(touser) == 0 {
		return errors.New("wecom: send image: no recipient")
	}
	return c.withImage(ctx, data, func(id string) error {
		body := struct {
			ToUser  string    `json:"touser"`
			MsgType string    `json:"msgtype"`
			AgentID int       `json:"agentid"`
			Image   mediaBody `json:"image"`
			Safe    int       `json:"safe"`
		}{ToUser: strings.Join(touser, "|"), MsgType: "image", AgentID: c.agentID, Image: mediaBody{id}}
		return c.call(ctx, apiCall{op: "send image", method: http.MethodPost, path: "/cgi-bin/message/send", body: body}, nil)
	})
}

// AppChatSendImage sends a picture to a group chat owned by the app.
func (c *Client) AppChatSendImage(ctx context.Context, chatID string, data []byte) error {
	if chatID == "" {
		return errors.New("wecom: appchat send image: no chat id")
	}
	return c.withImage(ctx, data, func(id string) error {
		body := struct {
			ChatID  string    `json:"chatid"`
			MsgType string    `json:"msgtype"`
			Image   mediaBody `json:"image"`
			Safe    int       `json:"safe"`
		}{ChatID: chatID, MsgType: "image", Image: mediaBody{id}}
		return c.call(ctx, apiCall{op: "appchat send image", method: http.MethodPost, path: "/cgi-bin/appchat/send", body: body}, nil)
	})
}

// RobotSendImage posts a picture through a group robot's webhook: robots take the
// picture itself, base64 with the hex md5 of the raw bytes, at most 2 MB.
func (c *Client) RobotSendImage(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return errors.New("wecom: robot send image: no webhook key")
	}
	if err := checkImage("robot send image", data); err != nil {
		return err
	}
	sum := md5.Sum(data) //nolint:gosec // asked for by the API
	body := struct {
		MsgType string `json:"msgtype"`
		Image   struct {
			Base64 string `json:"base64"`
			MD5    string `json:"md5"`
		} `json:"image"`
	}{MsgType: "image"}
	body.Image.Base64 = base64.StdEncoding.EncodeToString(data)
	body.Image.MD5 = hex.EncodeToString(sum[:])
	return c.do(ctx, apiCall{op: "robot send image", method: http.MethodPost, path: "/cgi-bin/webhook/send",
		query: url.Values{"key": {key}}, body: body, secrets: []string{key}}, nil)
}

// sendImage sends rep's picture to user as an image message (in card and text mode
// alike: it is not a card), counted in the member's budget, and returns rep without it.
// When the picture cannot be sent the reply's text goes alone, its first line saying so;
// only a budget wait cut short by ctx is an error.
func (r *Replier) sendImage(ctx context.Context, user string, rep chat.Reply) (chat.Reply, error) {
	img := rep.Image
	rep.Image = nil
	if _, err := r.budget.Wait(ctx, user); err != nil {
		return rep, err
	}
	if err := r.c.SendImage(ctx, []string{user}, img.PNG); err != nil {
		r.log.Warn("wecom: the picture could not be sent, sending its reading alone", zap.Error(err))
		if img.Unsent != "" {
			rep.Lines = append([]string{img.Unsent}, rep.Lines...)
		}
	}
	return rep, nil
}
