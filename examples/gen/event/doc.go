// Package event is the code iox2gen generates from examples/idl/event.idl:
// the event service "MyEventName" of iceoryx2's event example
// (OpenOrCreateMyEvent and friends, MyEventNotifier, which notifies event
// id 12 (EventId), and MyEventListener). The programs in examples/event
// build the same service with the runtime's API.
// event.iox2.h and event.iox2.rs hold the service's settings for C and Rust;
// event.iox2.api.h gives C programs its typed functions (iox2go's C library).
//
// Do not edit the generated files; change the IDL and run make generate.
package event

//go:generate go run github.com/iox2go/iox2go/cmd/iox2gen -out . -package event ../../idl/event.idl
