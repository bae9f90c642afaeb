package wecomtest

import (
	"bytes"
	"crypto/md5" //nolint:gosec // WeCom's robot API checks an md5; not for security
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"
)

// Temporary media as WeCom keeps it (docs: wecom-features.md §2): media/upload takes a
// multipart part named "media"; an image is JPG or PNG, larger than 5 bytes, and the fake
// caps it at 2 MB (WeCom's page says 10 MB, older copies 2 MB: the fake is the stricter).
// A media_id is valid 3 days; an unknown or expired one is refused with 40007.
const (
	ErrcodeInvalidMediaType = 40004 // the file is not a JPG/PNG image
	ErrcodeInvalidType      = 40005 // the type parameter is not image|voice|video|file
	ErrcodeInvalidFileSize  = 40006 // 5 bytes or less, or over the cap
	ErrcodeInvalidMediaID   = 40007
	ErrcodeEmptyMedia       = 44001
	// ErrcodeRobotImage answers a robot image whose md5 does not match its base64 or that is
	// not a JPG/PNG of at most 2 MB (the fake's choice of code).
	ErrcodeRobotImage = 40009

	mediaPath      = "/cgi-bin/media/upload"
	maxImageUpload = 2 << 20
	maxRobotImage  = 2 << 20
	mediaLifetime  = 3 * 24 * time.Hour
	// maxUploadBody bounds what the fake reads of a request: above every cap, so that an
	// oversized picture gets WeCom's errcode instead of a cut body.
	maxUploadBody = 12 << 20
)

// Upload is one accepted media/upload.
type Upload struct {
	MediaID  string
	Type     string // image
	Filename string
	Data     []byte
	Time     time.Time
}

type fakeMedia struct {
	Upload
}

// Uploads lists the accepted uploads in order.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, 0, len(s.mediaOrder))
	for _, id := range s.mediaOrder {
		out = append(out, s.media[id].Upload)
	}
	return out
}

// ExpireMedia makes a media_id expired, as if 3 days had passed.
func (s *Server) ExpireMedia(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.media[id]; ok {
		m.Time = m.Time.Add(-mediaLifetime)
	}
}

func sniffImage(b []byte) bool {
	return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF})
}

// mediaUpload is POST /cgi-bin/media/upload?type=…; s.mu is held.
func (s *Server) mediaUpload(r *http.Request, _ map[string]json.RawMessage, raw []byte) answer {
	typ := r.URL.Query().Get("type")
	switch typ {
	case "image":
	case "voice", "video", "file":
		return wxErr(ErrcodeInvalidType, "the fake accepts only type=image")
	default:
		return wxErr(ErrcodeInvalidType, "invalid media type "+strconv.Quote(typ))
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return wxErr(ErrcodeEmptyMedia, "media data missing: not multipart/form-data")
	}
	mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	var data []byte
	var filename string
	found := false
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FormName() != "media" {
			continue
		}
		filename = p.FileName()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(p); err != nil {
			return wxErr(ErrcodeEmptyMedia, "media data missing: "+err.Error())
		}
		data, found = buf.Bytes(), true
		break
	}
	switch {
	case !found || filename == "":
		return wxErr(ErrcodeEmptyMedia, "media data missing: no part named media with a filename")
	case len(data) == 0:
		return wxErr(ErrcodeEmptyMedia, "media data missing")
	case len(data) <= 5 || len(data) > maxImageUpload:
		return wxErr(ErrcodeInvalidFileSize, fmt.Sprintf("invalid file size %d", len(data)))
	case !sniffImage(data):
		return wxErr(ErrcodeInvalidMediaType, "invalid media file type: not jpg/png")
	}
	if s.media == nil {
		s.media = map[string]*fakeMedia{}
	}
	s.seq++
	id := fmt.Sprintf("fake-media-%d-%s", s.seq, randHex(8))
	s.media[id] = &fakeMedia{Upload{MediaID: id, Type: typ, Filename: filename, Data: data, Time: s.now()}}
	s.mediaOrder = append(s.mediaOrder, id)
	return wxOK(map[string]any{"type": typ, "media_id": id, "created_at": strconv.FormatInt(s.now().Unix(), 10)})
}

// imageMedia checks the image.media_id of an app or appchat image message; s.mu is held.
func (s *Server) imageMedia(fields map[string]json.RawMessage) (*fakeMedia, answer, bool) {
	var img struct {
		MediaID string `json:"media_id"`
	}
	_ = json.Unmarshal(fields["image"], &img)
	m, ok := s.media[img.MediaID]
	if !ok || img.MediaID == "" {
		return nil, wxErr(ErrcodeInvalidMediaID, "invalid media_id"), false
	}
	if !s.now().Before(m.Time.Add(mediaLifetime)) {
		return nil, wxErr(ErrcodeInvalidMediaID, "invalid media_id: expired"), false
	}
	return m, answer{}, true
}

// robotImage checks a robot's image {base64, md5}; s.mu is held.
func robotImage(fields map[string]json.RawMessage) ([]byte, answer, bool) {
	var img struct {
		Base64 string `json:"base64"`
		MD5    string `json:"md5"`
	}
	_ = json.Unmarshal(fields["image"], &img)
	data, err := base64.StdEncoding.DecodeString(img.Base64)
	if err != nil || len(data) == 0 {
		return nil, wxErr(ErrcodeRobotImage, "invalid image base64"), false
	}
	sum := md5.Sum(data) //nolint:gosec // the API's check
	if hex.EncodeToString(sum[:]) != img.MD5 {
		return nil, wxErr(ErrcodeRobotImage, "image md5 does not match"), false
	}
	if len(data) > maxRobotImage || !sniffImage(data) {
		return nil, wxErr(ErrcodeRobotImage, "image must be jpg/png of at most 2MB"), false
	}
	return data, answer{}, true
}
