package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of argon2id for new password hashes: OWASP's recommendation for argon2id
// (19 MiB, two passes, one lane), which costs a few tens of milliseconds a sign-in on
// one core and makes an offline guess cost the same. The parameters are written into
// every hash, so raising them later leaves existing hashes verifiable.
const (
	argon2MemoryKiB = 19 * 1024
	argon2Passes    = 2
	argon2Lanes     = 1
	argon2SaltBytes = 16
	argon2KeyBytes  = 32
)

// Bounds on the parameters a stored hash may ask for: a hash written by a future
// release, or by hand, is checked against them before any work, so that a tampered row
// cannot make a sign-in allocate gigabytes or run for minutes.
const (
	argon2MemoryKiBMax = 1 << 20 // 1 GiB
	argon2PassesMax    = 16
	argon2LanesMax     = 16
	argon2SaltBytesMin = 8
	argon2SaltBytesMax = 64
	argon2KeyBytesMin  = 16
	argon2KeyBytesMax  = 64
)

// errHashFormat says a stored password hash is not one this package can read: a fault of
// the data, never the user's.
var errHashFormat = errors.New("admin: the stored password hash is not an argon2id PHC string")

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of password as a PHC string:
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", with a new random salt.
func HashPassword(password string) string {
	salt := make([]byte, argon2SaltBytes)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	key := argon2.IDKey([]byte(password), salt, argon2Passes, argon2MemoryKiB, argon2Lanes, argon2KeyBytes)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argon2MemoryKiB, argon2Passes, argon2Lanes,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether password matches the PHC string encoded, with the
// parameters, salt and length the string holds; the final comparison takes constant time.
// An error says the string itself is unreadable or asks for too much.
func VerifyPassword(encoded, password string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.passes, p.memoryKiB, p.lanes, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// phc is a parsed argon2id PHC string.
type phc struct {
	memoryKiB, passes uint32
	lanes             uint8
	salt, key         []byte
}

func parsePHC(encoded string) (phc, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, errHashFormat
	}
	var p phc
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return phc{}, errHashFormat
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return phc{}, errHashFormat
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return phc{}, errHashFormat
		}
		switch name {
		case "m":
			p.memoryKiB = uint32(n)
		case "t":
			p.passes = uint32(n)
		case "p":
			if n > argon2LanesMax {
				return phc{}, errHashFormat
			}
			p.lanes = uint8(n)
		}
	}
	// argon2 needs at least 8 KiB per lane.
	if p.memoryKiB > argon2MemoryKiBMax || p.memoryKiB < 8*uint32(p.lanes) || p.passes > argon2PassesMax {
		return phc{}, errHashFormat
	}
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < argon2SaltBytesMin || len(p.salt) > argon2SaltBytesMax {
		return phc{}, errHashFormat
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < argon2KeyBytesMin || len(p.key) > argon2KeyBytesMax {
		return phc{}, errHashFormat
	}
	return p, nil
}
