package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
)

// The naming scheme: every file and segment of a domain is named here, from
// the domain's prefix and the ids of nodes, ports and services. No user
// input ever becomes a path: services are named by a hash, nodes and ports
// by random IDs (ID.String). A domain is (root, shm dir, prefix).
//
//	<root>/nodes/<prefix><node>.lock                       node liveness lock (flock)
//	<root>/nodes/<prefix><node>.cleaner                    a cleaner's claim on a dead node
//	<root>/nodes/<prefix><node>/details.json               node record
//	<root>/nodes/<prefix><node>/bell                       node doorbell (FIFO of 8-byte tokens)
//	<root>/nodes/<prefix><node>/<hash>_<uid>_<handle>.svc  service tag (crash journal)
//	<root>/nodes/<prefix><node>/<port>.data.port           port entry of a sender (crash journal)
//	<root>/nodes/<prefix><node>/<port>.event.port          port entry of a listener (crash journal)
//	<root>/services/<prefix><hash>.service                 static config (JSON)
//	<shm>/<prefix><hash>_<uid>.dynamic                     dynamic config segment
//	<shm>/<prefix><port>.data                              data segment of a sender
//	<shm>/<prefix><sender>_<receiver>.connection           connection segment
//	<shm>/<prefix><listener>.event                         event segment of a listener

// Directories under the domain's root.
const (
	NodesDir    = "nodes"
	ServicesDir = "services"
)

// Name suffixes and fixed names.
const (
	SuffixLock       = ".lock"
	SuffixCleaner    = ".cleaner"
	SuffixService    = ".service"
	SuffixDynamic    = ".dynamic"
	SuffixData       = ".data"
	SuffixConnection = ".connection"
	SuffixEvent      = ".event"
	SuffixServiceTag = ".svc"
	SuffixPortEntry  = ".port"
	// SuffixTmp ends a file being written before it is linked or renamed
	// to its final name.
	SuffixTmp = ".tmp"

	NodeDetailsName = "details.json" // in the node's directory
	BellName        = "bell"         // in the node's directory
)

// PortKind is what files a port creates; it is the middle part of the
// name of the port's journal entry.
type PortKind string

const (
	// PortSender is a publisher, client or server: its data segment
	// <prefix><port-id>.data and the connections to its receivers,
	// <prefix><port-id>_<receiver-id>.connection. (Connections to a
	// receiver are created, and removed, by their sender.)
	PortSender PortKind = "data"
	// PortListener is a listener: its event segment <prefix><port-id>.event.
	PortListener PortKind = "event"
)

// DoorbellTokenSize is the size of a doorbell token, a native-endian uint64:
// a waitpoint's index plus one in the low 32 bits, its generation in the
// high 32.
const DoorbellTokenSize = 8

// ServiceHash identifies a service within a domain: a service name can
// exist once per messaging pattern. It is the first 128 bits of SHA-256 over
// the pattern's number in decimal, a NUL byte and the name, in hex.
func ServiceHash(name string, pattern uint32) string {
	h := sha256.Sum256([]byte(strconv.Itoa(int(pattern)) + "\x00" + name))
	return hex.EncodeToString(h[:16])
}

// NodesPath is the directory of the node files of a domain.
func NodesPath(root string) string { return filepath.Join(root, NodesDir) }

// ServicesPath is the directory of the static configs of a domain.
func ServicesPath(root string) string { return filepath.Join(root, ServicesDir) }

// NodeLockPath is the liveness lock of node.
func NodeLockPath(root, prefix string, node ID) string {
	return filepath.Join(NodesPath(root), prefix+node.String()+SuffixLock)
}

// NodeDirPath is the directory of node.
func NodeDirPath(root, prefix string, node ID) string {
	return filepath.Join(NodesPath(root), prefix+node.String())
}

// CleanerPath is the file of the cleaner that claimed dead node.
func CleanerPath(root, prefix string, node ID) string {
	return filepath.Join(NodesPath(root), prefix+node.String()+SuffixCleaner)
}

// StaticPath is the static config of the service with hash.
func StaticPath(root, prefix, hash string) string {
	return filepath.Join(ServicesPath(root), prefix+hash+SuffixService)
}

// DynamicName is the dynamic config segment of incarnation uid of a service.
func DynamicName(prefix, hash, uid string) string { return prefix + hash + "_" + uid + SuffixDynamic }

// DataName is the data segment of sender port.
func DataName(prefix string, port ID) string { return prefix + port.String() + SuffixData }

// ConnName is the connection segment from sender to receiver.
func ConnName(prefix string, sender, receiver ID) string {
	return prefix + sender.String() + "_" + receiver.String() + SuffixConnection
}

// ConnPrefix starts the names of every connection segment of sender.
func ConnPrefix(prefix string, sender ID) string { return prefix + sender.String() + "_" }

// EventName is the event segment of listener port.
func EventName(prefix string, port ID) string { return prefix + port.String() + SuffixEvent }

// ServiceTagName is the name, in its node's directory, of the tag of one
// open handle of incarnation uid of the service with hash.
func ServiceTagName(hash, uid string, handle ID) string {
	return hash + "_" + uid + "_" + handle.String() + SuffixServiceTag
}

// PortEntryName is the name, in its node's directory, of the journal entry
// of port of kind.
func PortEntryName(port ID, kind PortKind) string {
	return port.String() + "." + string(kind) + SuffixPortEntry
}
