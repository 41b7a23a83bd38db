package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iox2go/iox2go/runtime/internal/protocol"
)

// Pattern is a messaging pattern. The numbers are iceoryx2's.
type Pattern = protocol.Pattern

const (
	PatternPublishSubscribe = protocol.PatternPublishSubscribe
	PatternEvent            = protocol.PatternEvent
	PatternRequestResponse  = protocol.PatternRequestResponse
)

// serviceHash identifies a service within a domain: a service name can exist
// once per messaging pattern. It names the service's files, so no user input
// ever becomes a path.
func serviceHash(name string, p Pattern) string { return protocol.ServiceHash(name, uint32(p)) }

// StaticConfig is the immutable description of a service, stored as a JSON
// file in <Root>/services when the service is created. It is published
// atomically (written to a temporary file, then hard-linked to its final
// name), so a reader sees all of it or none of it. Its Version is the
// protocol version (ProtocolVersion) in decimal.
type StaticConfig = protocol.StaticConfig

// PubSubStatic is the publish-subscribe part of a StaticConfig.
type PubSubStatic = protocol.PubSubStatic

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
	tmp := filepath.Join(tmpDir, filepath.Base(path)+"."+newID().String()+protocol.SuffixTmp)
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
