package wecom

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/silenceper/wechat/v2/util"
)

// cbBlockSize is the PKCS#7 block WeCom pads to: 32 bytes, not the AES block of 16.
const cbBlockSize = 32

// ErrDecrypt says an Encrypt or echostr value is not valid base64 or not a well-formed
// WeCom ciphertext (length, padding, inner length). The callback answers it with 400.
var ErrDecrypt = errors.New("wecom: malformed ciphertext")

// ErrReceiveID says a ciphertext decrypted cleanly but names another receiver than the
// configured corp id: it was made for someone else. The callback answers it with 403.
var ErrReceiveID = errors.New("wecom: receive id does not match corp id")

// Crypto verifies, decrypts and encrypts WeCom callback payloads for one app
// (the "WXBizMsgCrypt" scheme). It is safe for concurrent use.
//
// It uses silenceper's util.Signature and util.AESEncryptMsg, and decrypts itself because
// util.AESDecryptMsg neither checks every padding byte nor keeps the key schedule.
type Crypto struct {
	token     string
	key       []byte // 32 bytes
	block     cipher.Block
	receiveID string
}

// NewCrypto builds a Crypto from the app's callback Token, its 43-character EncodingAESKey
// and the receive id (the CorpID for a self-built app). Errors never contain the token or key.
func NewCrypto(token, encodingAESKey, receiveID string) (*Crypto, error) {
	if token == "" {
		return nil, errors.New("wecom: new crypto: token is empty")
	}
	if receiveID == "" {
		return nil, errors.New("wecom: new crypto: receive id (corp id) is empty")
	}
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("wecom: new crypto: encoding aes key must be 43 characters, got %d", len(encodingAESKey))
	}
	// StdEncoding, not Strict(): real keys have non-zero trailing bits.
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("wecom: new crypto: encoding aes key is not base64 of 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("wecom: new crypto: %w", err)
	}
	return &Crypto{token: token, key: key, block: block, receiveID: receiveID}, nil
}

// Sign returns the msg_signature WeCom computes for these values: lowercase hex SHA-1 of
// token, timestamp, nonce and encrypt, sorted and concatenated.
func (c *Crypto) Sign(timestamp, nonce, encrypt string) string {
	return util.Signature(c.token, timestamp, nonce, encrypt)
}

// Verify reports whether signature is the msg_signature of timestamp, nonce and encrypt
// (the echostr for GET). The comparison takes constant time.
func (c *Crypto) Verify(signature, timestamp, nonce, encrypt string) bool {
	want := c.Sign(timestamp, nonce, encrypt)
	return subtle.ConstantTimeCompare([]byte(want), []byte(signature)) == 1
}

// Decrypt decodes and decrypts an Encrypt (or echostr) value and returns the message.
// It fails with ErrDecrypt for anything malformed and ErrReceiveID when the message was
// encrypted for another corp id.
func (c *Crypto) Decrypt(encrypt string) (msg []byte, err error) {
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(encrypt)))
	n, err := base64.StdEncoding.Decode(buf, []byte(encrypt))
	if err != nil {
		return nil, fmt.Errorf("%w: base64", ErrDecrypt)
	}
	ct := buf[:n]
	if len(ct) < cbBlockSize || len(ct)%cbBlockSize != 0 {
		return nil, fmt.Errorf("%w: length %d", ErrDecrypt, len(ct))
	}
	cipher.NewCBCDecrypter(c.block, c.key[:16]).CryptBlocks(ct, ct)

	pad := int(ct[len(ct)-1])
	if pad < 1 || pad > cbBlockSize {
		return nil, fmt.Errorf("%w: padding", ErrDecrypt)
	}
	var bad byte
	for _, b := range ct[len(ct)-pad:] {
		bad |= b ^ byte(pad)
	}
	if bad != 0 {
		return nil, fmt.Errorf("%w: padding", ErrDecrypt)
	}
	pt := ct[:len(ct)-pad]
	if len(pt) < 20 {
		return nil, fmt.Errorf("%w: too short", ErrDecrypt)
	}
	msgLen := uint64(binary.BigEndian.Uint32(pt[16:20]))
	if msgLen > uint64(len(pt)-20) {
		return nil, fmt.Errorf("%w: message length", ErrDecrypt)
	}
	end := 20 + int(msgLen)
	if string(pt[end:]) != c.receiveID {
		return nil, ErrReceiveID
	}
	return pt[20:end:end], nil
}

// Encrypt encrypts msg for this app's receive id with a fresh random prefix and signs it
// with timestamp and nonce, as WeCom does for callbacks and expects of passive replies.
func (c *Crypto) Encrypt(msg []byte, timestamp, nonce string) (encrypt, signature string, err error) {
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return "", "", fmt.Errorf("wecom: encrypt: random: %w", err)
	}
	ct := util.AESEncryptMsg(random, msg, c.receiveID, c.key)
	encrypt = base64.StdEncoding.EncodeToString(ct)
	return encrypt, c.Sign(timestamp, nonce, encrypt), nil
}
