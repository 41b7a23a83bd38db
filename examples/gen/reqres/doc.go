// Package reqres is the code iox2gen generates from
// examples/idl/request_response.idl: the request-response service
// "My/Funk/ServiceName" of iceoryx2's request-response example, with
// requests and responses of type Number (OpenOrCreateMyFunkServiceName and
// friends, MyFunkServiceNameClient and MyFunkServiceNameServer).
// request_response.iox2.h and request_response.iox2.rs describe the same
// payload and service for C and Rust; request_response.iox2.api.h gives C
// programs its typed functions (iox2go's C library).
//
// Do not edit the generated files; change the IDL and run make generate.
package reqres

//go:generate go run github.com/iox2go/iox2go/cmd/iox2gen -out . -package reqres ../../idl/request_response.idl
