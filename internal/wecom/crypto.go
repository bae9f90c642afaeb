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

// ErrDecrypt says an Encrypt or echostr value does not decrypt to a WeCom message for the
// expected receive id. It is the only decryption error, whatever went wrong (base64, length,
// padding, inner length, receive id): telling them apart would give whoever holds the
// callback Token a padding oracle, and with it every plaintext and any forged message (CBC-R).
var ErrDecrypt = errors.New("wecom: ciphertext does not decrypt")

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
	if receiveID == "" {
		return nil, errors.New("wecom: new crypto: receive id (corp id) is empty")
	}
	return newCrypto(token, encodingAESKey, receiveID)
}

// NewSmartBotCrypto builds the Crypto of a smart bot's webhook: WeCom leaves its receive id
// empty (wecom-features.md §1.3), which silenceper's decrypt refuses.
func NewSmartBotCrypto(token, encodingAESKey string) (*Crypto, error) {
	return newCrypto(token, encodingAESKey, "")
}

func newCrypto(token, encodingAESKey, receiveID string) (*Crypto, error) {
	if token == "" {
		return nil, errors.New("wecom: new crypto: token is empty")
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

// Decrypt decodes and decrypts an Encrypt (or echostr) value for this app's receive id.
func (c *Crypto) Decrypt(encrypt string) ([]byte, error) {
	return c.DecryptFor(encrypt, c.receiveID)
}

// DecryptFor decodes and decrypts an Encrypt (or echostr) value whose plaintext must name
// receiveID: the CorpID for a self-built app, "" where WeCom leaves it empty (a smart bot's
// webhook). Every failure is ErrDecrypt with no detail.
func (c *Crypto) DecryptFor(encrypt, receiveID string) ([]byte, error) {
	msg, ok := c.open(encrypt, receiveID)
	if !ok {
		return nil, ErrDecrypt
	}
	return msg, nil
}

// open decrypts encrypt and reports whether it is a well-formed message for receiveID.
// Once the ciphertext is decrypted it does the same work whatever the plaintext holds: the
// padding, the inner length and the receive id are checked without an early exit, and msg
// is always a slice of the plaintext (garbage when !ok), so that a caller can treat both
// outcomes alike. What happens before decryption depends only on the ciphertext, which the
// sender knows anyway.
func (c *Crypto) open(encrypt, receiveID string) (msg []byte, ok bool) {
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(encrypt)))
	n, err := base64.StdEncoding.Decode(buf, []byte(encrypt))
	if err != nil {
		return nil, false
	}
	ct := buf[:n]
	if len(ct) < cbBlockSize || len(ct)%cbBlockSize != 0 {
		return nil, false
	}
	cipher.NewCBCDecrypter(c.block, c.key[:16]).CryptBlocks(ct, ct)

	// Padding: 1..32 bytes, each equal to the count. Checked over the last 32 bytes
	// whatever the pad byte says.
	pad := int(ct[len(ct)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, cbBlockSize)
	for i := 1; i <= cbBlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		same := subtle.ConstantTimeByteEq(ct[len(ct)-i], byte(pad))
		good &= same | (inPad ^ 1)
	}
	// A bad pad byte is replaced by 1, and a plaintext shorter than its header by the
	// header's length, so that the rest runs on the same lengths.
	pad = subtle.ConstantTimeSelect(good, pad, 1)
	ptLen := len(ct) - pad // >= 0: len(ct) >= 32 >= pad
	long := subtle.ConstantTimeLessOrEq(20, ptLen)
	good &= long
	pt := ct[:subtle.ConstantTimeSelect(long, ptLen, 20)]

	// 16 random bytes, the message length, the message, the receive id.
	room := len(pt) - 20
	msgLen := binary.BigEndian.Uint32(pt[16:20])
	fits := subtle.ConstantTimeLessOrEq(int(min(uint64(msgLen), uint64(room)+1)), room)
	end := 20 + subtle.ConstantTimeSelect(fits, int(min(uint64(msgLen), uint64(room))), 0)
	good &= fits
	good &= subtle.ConstantTimeCompare(pt[end:], []byte(receiveID))
	return pt[20:end:end], good == 1
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
