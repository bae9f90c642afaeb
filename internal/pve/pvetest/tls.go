package pvetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
)

// certSet is a cluster CA (like /etc/pve/pve-root-ca.pem) and the node leaf it signed
// (like pve-ssl.pem).
type certSet struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  []byte
	leaf   tls.Certificate
}

func newCertSet() *certSet {
	key := mustKey()
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "Proxmox Virtual Environment", OrganizationalUnit: []string{"pvetest"}, Organization: []string{"PVE Cluster Manager CA"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(fmt.Sprintf("pvetest: create ca: %v", err))
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		panic(fmt.Sprintf("pvetest: parse ca: %v", err))
	}
	cs := &certSet{caCert: ca, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	cs.leaf = cs.newLeaf()
	return cs
}

func (cs *certSet) newLeaf() tls.Certificate {
	key := mustKey()
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "pvetest.local", OrganizationalUnit: []string{"PVE Cluster Node"}, Organization: []string{"Proxmox Virtual Environment"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(2 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, cs.caCert, &key.PublicKey, cs.caKey)
	if err != nil {
		panic(fmt.Sprintf("pvetest: create leaf: %v", err))
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(fmt.Sprintf("pvetest: parse leaf: %v", err))
	}
	return tls.Certificate{Certificate: [][]byte{der, cs.caCert.Raw}, PrivateKey: key, Leaf: leaf}
}

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("pvetest: generate key: %v", err))
	}
	return k
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(fmt.Sprintf("pvetest: serial: %v", err))
	}
	return n
}

// FingerprintOf formats the SHA-256 of a DER certificate the way PVE shows it:
// upper-case hex, colon-separated.
func FingerprintOf(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// Fingerprint is the SHA-256 of the served leaf certificate in PVE's style
// ("AB:CD:..."), for fingerprint-pinning tests. Empty without Options.TLS.
func (s *Server) Fingerprint() string {
	if s.certs == nil {
		return ""
	}
	s.tlsMu.RLock()
	defer s.tlsMu.RUnlock()
	return FingerprintOf(s.certs.leaf.Certificate[0])
}

// CACertPEM is the CA that signed the leaf (the fake's pve-root-ca.pem), for ca_file tests.
// Nil without Options.TLS.
func (s *Server) CACertPEM() []byte {
	if s.certs == nil {
		return nil
	}
	return append([]byte(nil), s.certs.caPEM...)
}

// RotateCertificate issues a new leaf from the same CA, as a certificate renewal does: pinned
// fingerprints break, a pinned CA keeps working. New connections see the new leaf.
func (s *Server) RotateCertificate() {
	if s.certs == nil {
		return
	}
	leaf := s.certs.newLeaf()
	s.tlsMu.Lock()
	s.certs.leaf = leaf
	s.tlsMu.Unlock()
	// A real node restarts pveproxy to load a new certificate, which drops every
	// connection: the next request handshakes with the new leaf.
	s.hs.CloseClientConnections()
}

// HTTPClient returns a client that trusts the fake's CA (a plain client without Options.TLS),
// for tests that are not about TLS options. It has a 10 s timeout as a safety net.
func (s *Server) HTTPClient() *http.Client {
	tr := &http.Transport{}
	if s.certs != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.certs.caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
