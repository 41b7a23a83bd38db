package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Pattern is a messaging pattern. The numbers are iceoryx2's.
type Pattern uint32

const (
	PatternPublishSubscribe Pattern = 0
	PatternEvent            Pattern = 1
	PatternRequestResponse  Pattern = 2
)

func (p Pattern) String() string {
	switch p {
	case PatternPublishSubscribe:
		return "publish_subscribe"
	case PatternEvent:
		return "event"
	case PatternRequestResponse:
		return "request_response"
	}
	return "Pattern(" + strconv.Itoa(int(p)) + ")"
}

// serviceHash identifies a service within a domain: a service name can exist
// once per messaging pattern. It names the service's files, so no user input
// ever becomes a path.
func serviceHash(name string, p Pattern) string {
	h := sha256.Sum256([]byte(strconv.Itoa(int(p)) + "\x00" + name))
	return hex.EncodeToString(h[:16])
}

// StaticConfig is the immutable description of a service, stored as a JSON
// file in <Root>/services when the service is created. It is published
// atomically (written to a temporary file, then hard-linked to its final
// name), so a reader sees all of it or none of it.
type StaticConfig struct {
	Version    string      `json:"version"`
	Name       string      `json:"name"`
	Pattern    string      `json:"pattern"`
	Hash       string      `json:"hash"`
	UID        string      `json:"uid"` // this incarnation of the service; names its dynamic segment
	Attributes []Attribute `json:"attributes"`

	PublishSubscribe *PubSubStatic `json:"publish_subscribe,omitempty"`
	Event            *EventStatic  `json:"event,omitempty"`
	RequestResponse  *ReqResStatic `json:"request_response,omitempty"`
}

// PubSubStatic is the publish-subscribe part of a StaticConfig.
type PubSubStatic struct {
	Payload TypeInfo `json:"payload"`
	// PayloadVariant is "fixed" (one T per sample) or "dynamic" (a slice
	// of T whose length the publisher chooses per sample).
	PayloadVariant               string    `json:"payload_variant"`
	UserHeader                   *TypeInfo `json:"user_header,omitempty"`
	MaxPublishers                int       `json:"max_publishers"`
	MaxSubscribers               int       `json:"max_subscribers"`
	MaxNodes                     int       `json:"max_nodes"`
	HistorySize                  int       `json:"history_size"`
	SubscriberMaxBufferSize      int       `json:"subscriber_max_buffer_size"`
	SubscriberMaxBorrowedSamples int       `json:"subscriber_max_borrowed_samples"`
	EnableSafeOverflow           bool      `json:"enable_safe_overflow"`
}

func (c *Config) servicesDir() string { return filepath.Join(c.Root, "services") }

func (c *Config) staticPath(hash string) string {
	return filepath.Join(c.servicesDir(), c.Prefix+hash+".service")
}

// readStatic reads and decodes a static config. It returns an error wrapping
// fs.ErrNotExist when there is none, and ErrServiceCorrupted when the file
// cannot be decoded or does not describe the service it is named after.
func readStatic(path, hash string) (*StaticConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("%w: %v", ErrPermission, err)
		}
		return nil, err
	}
	var sc StaticConfig
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("%w: static config %s: %v", ErrServiceCorrupted, path, err)
	}
	if sc.Hash != hash {
		return nil, fmt.Errorf("%w: static config %s describes service hash %q", ErrServiceCorrupted, path, sc.Hash)
	}
	// Every reader relies on the section of the pattern being there.
	var has bool
	switch sc.Pattern {
	case PatternPublishSubscribe.String():
		has = sc.PublishSubscribe != nil
	case PatternEvent.String():
		has = sc.Event != nil
	case PatternRequestResponse.String():
		has = sc.RequestResponse != nil
	default:
		return nil, fmt.Errorf("%w: static config %s has the unknown pattern %q", ErrServiceCorrupted, path, sc.Pattern)
	}
	if !has {
		return nil, fmt.Errorf("%w: static config %s lacks its %s section", ErrServiceCorrupted, path, sc.Pattern)
	}
	return &sc, nil
}

// writeStatic publishes sc at path unless a file is there already, in which
// case it returns fs.ErrExist. The temporary file is written in tmpDir, the
// creating node's directory, so that a creator killed before it removes the
// file leaves it where the cleanup of dead nodes removes it.
func writeStatic(path, tmpDir string, sc *StaticConfig, mode os.FileMode) error {
	b, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp := filepath.Join(tmpDir, filepath.Base(path)+"."+newID().String()+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Link fails if path exists: exactly one creator wins.
	return os.Link(tmp, path)
}
