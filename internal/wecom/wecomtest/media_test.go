package wecomtest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
)

func upload(t *testing.T, s *Server, typ, field, filename string, data []byte) map[string]any {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, err := w.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(data)
	_ = w.Close()
	u := s.URL() + "/cgi-bin/media/upload?" + url.Values{"access_token": {token(t, s)}, "type": {typ}}.Encode()
	resp, err := http.Post(u, w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMediaUploadLimits(t *testing.T) {
	s := NewServer(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 32)...)
	tests := []struct {
		name, typ, field, file string
		data                   []byte
		want                   int
	}{
		{"png", "image", "media", "a.png", png, 0},
		{"jpeg", "image", "media", "a.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 16)...), 0},
		{"gif", "image", "media", "a.gif", []byte("GIF89a0123456789"), ErrcodeInvalidMediaType},
		{"voice", "voice", "media", "a.amr", png, ErrcodeInvalidType},
		{"no type", "", "media", "a.png", png, ErrcodeInvalidType},
		{"five bytes", "image", "media", "a.png", png[:5], ErrcodeInvalidFileSize},
		{"empty", "image", "media", "a.png", nil, ErrcodeEmptyMedia},
		{"wrong field", "image", "file", "a.png", png, ErrcodeEmptyMedia},
		{"over 2 MB", "image", "media", "a.png", append(png, make([]byte, 2<<20)...), ErrcodeInvalidFileSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := upload(t, s, tt.typ, tt.field, tt.file, tt.data)
			if got := errcode(out); got != tt.want {
				t.Fatalf("errcode = %d (%v), want %d", got, out, tt.want)
			}
			if tt.want == 0 {
				if id, _ := out["media_id"].(string); id == "" {
					t.Errorf("no media_id in %v", out)
				}
				if _, ok := out["created_at"].(string); !ok {
					t.Errorf("created_at = %v, want a string as in WeCom's sample", out["created_at"])
				}
			}
		})
	}
	if n := len(s.Uploads()); n != 2 {
		t.Errorf("uploads kept = %d, want 2", n)
	}
}
