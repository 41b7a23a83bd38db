package runtime

import (
	"fmt"
	"strings"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// Name limits, as in iceoryx2.
const (
	MaxServiceNameLength = 255
	MaxNodeNameLength    = 128
	MaxAttributeKeyLen   = 64
	MaxAttributeValueLen = 256
	MaxAttributes        = 8
)

// reservedPrefix marks iceoryx2's internal services.
const reservedPrefix = "iox2://"

// ServiceName is a validated service name: 1 to 255 bytes of ASCII 1..127,
// not starting with "iox2://".
type ServiceName string

// NewServiceName validates name.
func NewServiceName(name string) (ServiceName, error) {
	if err := validateASCII(name, MaxServiceNameLength, false); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidServiceName, name, err)
	}
	if strings.HasPrefix(name, reservedPrefix) {
		return "", fmt.Errorf("%w %q: the prefix %q is reserved", ErrInvalidServiceName, name, reservedPrefix)
	}
	return ServiceName(name), nil
}

func (n ServiceName) String() string { return string(n) }

func validateASCII(s string, max int, emptyOK bool) error {
	if s == "" && !emptyOK {
		return fmt.Errorf("must not be empty")
	}
	if len(s) > max {
		return fmt.Errorf("is %d bytes long, the maximum is %d", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c > 127 {
			return fmt.Errorf("byte %d is 0x%02x; only ASCII 1..127 is allowed", i, c)
		}
	}
	return nil
}

// Attribute is a key=value pair stored with a service.
type Attribute = protocol.Attribute

func validateAttributes(attrs []Attribute, requirement bool) error {
	if !requirement && len(attrs) > MaxAttributes {
		return fmt.Errorf("%w: %d attributes, the maximum is %d", ErrInvalidAttribute, len(attrs), MaxAttributes)
	}
	for _, a := range attrs {
		if err := validateASCII(a.Key, MaxAttributeKeyLen, false); err != nil {
			return fmt.Errorf("%w: key %q %v", ErrInvalidAttribute, a.Key, err)
		}
		if err := validateASCII(a.Value, MaxAttributeValueLen, requirement); err != nil {
			return fmt.Errorf("%w: value %q of key %q %v", ErrInvalidAttribute, a.Value, a.Key, err)
		}
	}
	return nil
}
