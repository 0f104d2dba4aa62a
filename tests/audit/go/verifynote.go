// verifynote checks a SunBid audit checkpoint with Go's golang.org/x/mod/sumdb/note, the reference
// implementation of signed notes: the log's Ed25519 signature (note.NewVerifier) and the witness's
// cosignature (c2sp.org/tlog-cosignature, type 0x04), through note.Open.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run verifynote.go LOG_VKEY WITNESS_VKEY < checkpoint
//
// Prints the verified checkpoint text and one line per verified signature; exits 1 on any failure.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify checks timestamp (u64, big-endian) || Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint text.
func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t > 1<<63-1 {
		return false
	}
	signed := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), msg...)
	return ed25519.Verify(v.key, signed, sig[8:])
}

func newCosignatureVerifier(vkey string) (*cosignatureVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed witness key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 0x04 {
		return nil, fmt.Errorf("not an Ed25519 cosignature key")
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	hash := binary.BigEndian.Uint32(h[:4])
	if fmt.Sprintf("%08x", hash) != parts[1] {
		return nil, fmt.Errorf("witness key id does not match")
	}
	return &cosignatureVerifier{name: parts[0], hash: hash, key: ed25519.PublicKey(raw[1:])}, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: verifynote LOG_VKEY WITNESS_VKEY < checkpoint")
		os.Exit(2)
	}
	logVerifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "log key:", err)
		os.Exit(1)
	}
	witness, err := newCosignatureVerifier(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "witness key:", err)
		os.Exit(1)
	}
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		os.Exit(1)
	}
	n, err := note.Open(msg, note.VerifierList(logVerifier, witness))
	if err != nil {
		fmt.Fprintln(os.Stderr, "note.Open:", err)
		os.Exit(1)
	}
	seen := map[string]bool{}
	for _, sig := range n.Sigs {
		seen[sig.Name] = true
	}
	if !seen[logVerifier.Name()] || !seen[witness.Name()] {
		fmt.Fprintln(os.Stderr, "missing the log's signature or the witness's cosignature")
		os.Exit(1)
	}
	var out bytes.Buffer
	out.WriteString(n.Text)
	for _, sig := range n.Sigs {
		fmt.Fprintf(&out, "verified: %s\n", sig.Name)
	}
	os.Stdout.Write(out.Bytes())
}
