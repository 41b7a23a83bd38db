// Package transmission is the code iox2gen generates from
// examples/idl/transmission.idl: the payload of iceoryx2's publish-subscribe
// example (TransmissionData) and its service "My/Funk/ServiceName"
// (OpenOrCreateMyFunkServiceName and friends).
//
// Do not edit the generated files; change the IDL and run make generate.
package transmission

//go:generate go run github.com/iox2go/iox2go/cmd/iox2gen -out . -package transmission ../../idl/transmission.idl
