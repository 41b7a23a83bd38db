// iox2go.hpp: a header-only C++17 wrapper of iox2go's C library (iox2go.h).
//
// RAII handles: Node, Service, Publisher<T, H>, Subscriber<T, H>, Notifier,
// Listener, Client<Req, Resp>, Server<Req, Resp>, and the samples, requests
// and responses they lend. Every handle is move-only and closes or releases
// what it owns in its destructor; a loaned sample that is not sent is
// released, a received one is given back. T is a payload type of a header
// that iox2gen generated (robot_Imu), or the element type of a slice
// service; H is the user header type (void: none).
//
// Errors are exceptions: every failing call throws iox2go::error, a
// std::runtime_error whose code() is the IOX2_E_* code and whose what() is
// the node's message (iox2_node_errmsg: the code's text, then what and
// where). "Nothing there" is not an error: receive() returns a handle that
// tests false when no sample, request or response is there (as a null
// unique_ptr), a wait that times out returns false (Listener::wait_one an
// empty std::optional, PendingResponse::wait Wait::timeout).
//
// Lifetimes are those of the C library: a service belongs to its node, a
// port to its service, a sample to its port. Declare them in that order (a
// node, then its services, then their ports, then samples), so that
// destructors run from the innermost out; a node or service closed first
// closes everything made from it, and the handles of those must not be used
// (or destroyed) afterwards.
//
// The functions that iox2gen generates (FILE.iox2.api.h) plug in where a
// handle is made:
//
//	#include "robot.iox2.api.h"
//	#include <iox2go.hpp>
//
//	iox2go::Node node("imu-reader");
//	iox2go::Service imu(node, robot_Imu_service, IOX2_OPEN_OR_CREATE);
//	iox2go::Subscriber<robot_Imu> sub(imu, robot_Imu_subscriber_create);
//	while (sub.wait(IOX2_FOREVER))
//		while (auto sample = sub.receive())
//			use(sample->stamp_ns);
//
// Compiles with -std=c++17 and later. Link with -liox2go.
#ifndef IOX2GO_HPP
#define IOX2GO_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "iox2go.h"

namespace iox2go {

// error is what every failing call throws.
class error : public std::runtime_error {
public:
	error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
	// code returns the IOX2_E_* code.
	int code() const noexcept { return code_; }

private:
	int code_;
};

namespace detail {

inline void check(int rc, const iox2_node *node) {
	if (rc == IOX2_OK) return;
	const char *msg = node != nullptr ? iox2_node_errmsg(node) : nullptr;
	throw error(rc, msg != nullptr && *msg != '\0' ? msg : iox2_errstr(rc));
}

// Handle owns a C handle P and closes it with Close. Move-only.
template <class P, void (*Close)(P *)>
class Handle {
public:
	Handle() noexcept = default;
	explicit Handle(P *p) noexcept : p_(p) {}
	Handle(Handle &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
	Handle &operator=(Handle &&o) noexcept {
		if (this != &o) {
			reset();
			p_ = std::exchange(o.p_, nullptr);
		}
		return *this;
	}
	Handle(const Handle &) = delete;
	Handle &operator=(const Handle &) = delete;
	~Handle() { reset(); }

	void reset() noexcept {
		if (p_ != nullptr) Close(std::exchange(p_, nullptr));
	}
	P *get() const noexcept { return p_; }
	P *release() noexcept { return std::exchange(p_, nullptr); }
	explicit operator bool() const noexcept { return p_ != nullptr; }

private:
	P *p_ = nullptr;
};

// The close functions as void(P *): the C library's return codes of close
// say nothing a destructor could act on.
inline void close_node(iox2_node *p) { iox2_node_close(p); }
inline void close_service(iox2_service *p) { iox2_service_close(p); }
inline void close_publisher(iox2_publisher *p) { iox2_publisher_close(p); }
inline void close_subscriber(iox2_subscriber *p) { iox2_subscriber_close(p); }
inline void close_notifier(iox2_notifier *p) { iox2_notifier_close(p); }
inline void close_listener(iox2_listener *p) { iox2_listener_close(p); }
inline void close_client(iox2_client *p) { iox2_client_close(p); }
inline void close_server(iox2_server *p) { iox2_server_close(p); }
inline void release_sample_mut(iox2_sample_mut *p) { iox2_sample_mut_release(p); }
inline void release_sample(const iox2_sample *p) { iox2_sample_release(p); }
inline void release_request_mut(iox2_request_mut *p) { iox2_request_mut_release(p); }
inline void close_pending_response(iox2_pending_response *p) { iox2_pending_response_close(p); }
inline void release_response(const iox2_response *p) { iox2_response_release(p); }
inline void close_active_request(iox2_active_request *p) { iox2_active_request_close(p); }
inline void release_response_mut(iox2_response_mut *p) { iox2_response_mut_release(p); }

template <class H>
using if_header = std::enable_if_t<!std::is_void<H>::value, int>;

} // namespace detail

// Node is a participant of a domain (iox2_node).
class Node {
public:
	// Node creates a node in the domain of cfg (nullptr: the defaults).
	explicit Node(const char *name = nullptr, const iox2_config *cfg = nullptr) {
		iox2_node *n = nullptr;
		int rc = iox2_node_create(cfg, name, &n);
		if (rc != IOX2_OK) {
			const char *msg = iox2_last_create_error();
			throw error(rc, msg != nullptr && *msg != '\0' ? msg : iox2_errstr(rc));
		}
		h_ = decltype(h_)(n);
	}

	iox2_node *get() const noexcept { return h_.get(); }
	uint64_t id() const { return iox2_node_id(h_.get()); }
	int fd() const { return iox2_node_fd(h_.get()); }
	std::string errmsg() const { return iox2_node_errmsg(h_.get()); }
	// close closes the node now (and everything made from it).
	void close() noexcept { h_.reset(); }

private:
	detail::Handle<iox2_node, detail::close_node> h_;
};

// Service is a service of any pattern (iox2_service).
class Service {
public:
	using OpenFn = int (*)(iox2_node *, int, iox2_service **);

	// Service opens or creates a service with a function that iox2gen
	// generated (robot_Imu_service); mode is IOX2_OPEN, IOX2_CREATE or
	// IOX2_OPEN_OR_CREATE.
	Service(Node &node, OpenFn open, int mode) : node_(node.get()) {
		iox2_service *s = nullptr;
		detail::check(open(node.get(), mode, &s), node_);
		h_ = decltype(h_)(s);
	}
	Service(Node &node, const iox2_pubsub_spec &spec, int mode) : node_(node.get()) {
		iox2_service *s = nullptr;
		detail::check(iox2_pubsub_service(node.get(), &spec, mode, &s), node_);
		h_ = decltype(h_)(s);
	}
	Service(Node &node, const iox2_event_spec &spec, int mode) : node_(node.get()) {
		iox2_service *s = nullptr;
		detail::check(iox2_event_service(node.get(), &spec, mode, &s), node_);
		h_ = decltype(h_)(s);
	}
	Service(Node &node, const iox2_reqres_spec &spec, int mode) : node_(node.get()) {
		iox2_service *s = nullptr;
		detail::check(iox2_reqres_service(node.get(), &spec, mode, &s), node_);
		h_ = decltype(h_)(s);
	}

	iox2_service *get() const noexcept { return h_.get(); }
	const iox2_node *node() const noexcept { return node_; }
	std::string name() const { return iox2_service_name(h_.get()); }
	void close() noexcept { h_.reset(); }

private:
	const iox2_node *node_;
	detail::Handle<iox2_service, detail::close_service> h_;
};

namespace detail {

// make creates a port of service with fn(service, out).
template <class P, class Fn>
P *make(Service &svc, Fn fn) {
	P *p = nullptr;
	check(fn(svc.get(), &p), svc.node());
	return p;
}

} // namespace detail

// SampleMut is a loaned sample of a Publisher<T, H>: send it, or let the
// destructor release it.
template <class T, class H = void>
class SampleMut {
public:
	SampleMut(iox2_sample_mut *s, const iox2_node *node) noexcept : h_(s), node_(node) {}

	T *payload() noexcept { return static_cast<T *>(iox2_sample_mut_payload(h_.get())); }
	T &operator*() noexcept { return *payload(); }
	T *operator->() noexcept { return payload(); }
	// len is the number of elements (1 unless the service is a slice service).
	uint64_t len() const noexcept { return iox2_sample_mut_len(h_.get()); }
	T &operator[](std::size_t i) noexcept { return payload()[i]; }
	T *begin() noexcept { return payload(); }
	T *end() noexcept { return payload() + len(); }
	template <class U = H, detail::if_header<U> = 0>
	U *user_header() noexcept { return static_cast<U *>(iox2_sample_mut_user_header(h_.get())); }

	// send delivers the sample and returns to how many subscribers; the
	// loan ends, also when it throws.
	std::size_t send() {
		std::size_t n = 0;
		detail::check(iox2_sample_mut_send(h_.release(), &n), node_);
		return n;
	}

	iox2_sample_mut *get() const noexcept { return h_.get(); }

private:
	detail::Handle<iox2_sample_mut, detail::release_sample_mut> h_;
	const iox2_node *node_;
};

// Publisher sends samples of T (elements of T for a slice service).
template <class T, class H = void>
class Publisher {
public:
	using CreateFn = int (*)(iox2_service *, iox2_publisher **);

	// Publisher creates a publisher with a function that iox2gen generated
	// (robot_Imu_publisher_create), which applies the IDL's presets.
	Publisher(Service &svc, CreateFn create) : h_(detail::make<iox2_publisher>(svc, create)), node_(svc.node()) {}
	// Publisher creates a publisher with options o, or the defaults.
	Publisher(Service &svc, const iox2_publisher_options &o)
	    : h_(detail::make<iox2_publisher>(svc, [&o](iox2_service *s, iox2_publisher **out) { return iox2_publisher_create(s, &o, out); })),
	      node_(svc.node()) {}
	explicit Publisher(Service &svc)
	    : h_(detail::make<iox2_publisher>(svc, [](iox2_service *s, iox2_publisher **out) { return iox2_publisher_create(s, nullptr, out); })),
	      node_(svc.node()) {}

	// loan lends a zeroed sample of len elements.
	SampleMut<T, H> loan(uint64_t len = 1) {
		iox2_sample_mut *s = nullptr;
		detail::check(iox2_publisher_loan(h_.get(), len, &s), node_);
		return SampleMut<T, H>(s, node_);
	}
	// loan_uninit lends a sample whose bytes are left as they are.
	SampleMut<T, H> loan_uninit(uint64_t len = 1) {
		iox2_sample_mut *s = nullptr;
		detail::check(iox2_publisher_loan_uninit(h_.get(), len, &s), node_);
		return SampleMut<T, H>(s, node_);
	}
	// send_copy sends a copy of value and returns to how many subscribers.
	std::size_t send_copy(const T &value) {
		SampleMut<T, H> s = std::is_void<H>::value ? loan_uninit() : loan();
		std::memcpy(static_cast<void *>(s.payload()), &value, sizeof(T));
		return s.send();
	}

	uint64_t id() const { return iox2_publisher_id(h_.get()); }
	iox2_publisher *get() const noexcept { return h_.get(); }

private:
	detail::Handle<iox2_publisher, detail::close_publisher> h_;
	const iox2_node *node_;
};

// Sample is a received sample, or none (false); the destructor gives it
// back.
template <class T, class H = void>
class Sample {
public:
	explicit Sample(const iox2_sample *s = nullptr) noexcept : h_(s) {}
	explicit operator bool() const noexcept { return static_cast<bool>(h_); }

	const T *payload() const noexcept { return static_cast<const T *>(iox2_sample_payload(h_.get())); }
	const T &operator*() const noexcept { return *payload(); }
	const T *operator->() const noexcept { return payload(); }
	uint64_t len() const noexcept { return iox2_sample_len(h_.get()); }
	const T &operator[](std::size_t i) const noexcept { return payload()[i]; }
	const T *begin() const noexcept { return payload(); }
	const T *end() const noexcept { return payload() + len(); }
	template <class U = H, detail::if_header<U> = 0>
	const U *user_header() const noexcept { return static_cast<const U *>(iox2_sample_user_header(h_.get())); }
	uint64_t sequence() const noexcept { return iox2_sample_sequence(h_.get()); }
	uint64_t publisher() const noexcept { return iox2_sample_publisher(h_.get()); }

	const iox2_sample *get() const noexcept { return h_.get(); }

private:
	detail::Handle<const iox2_sample, detail::release_sample> h_;
};

// Subscriber receives samples of T.
template <class T, class H = void>
class Subscriber {
public:
	using CreateFn = int (*)(iox2_service *, iox2_subscriber **);

	Subscriber(Service &svc, CreateFn create) : h_(detail::make<iox2_subscriber>(svc, create)), node_(svc.node()) {}
	// Subscriber creates a subscriber with options o, or the defaults.
	Subscriber(Service &svc, const iox2_subscriber_options &o)
	    : h_(detail::make<iox2_subscriber>(svc, [&o](iox2_service *s, iox2_subscriber **out) { return iox2_subscriber_create(s, &o, out); })),
	      node_(svc.node()) {}
	explicit Subscriber(Service &svc)
	    : h_(detail::make<iox2_subscriber>(svc, [](iox2_service *s, iox2_subscriber **out) { return iox2_subscriber_create(s, nullptr, out); })),
	      node_(svc.node()) {}

	// receive takes the next sample; false when none is there.
	Sample<T, H> receive() {
		const iox2_sample *s = nullptr;
		detail::check(iox2_subscriber_receive(h_.get(), &s), node_);
		return Sample<T, H>(s);
	}
	// wait blocks until a sample can be received (true) or timeout_ns
	// passed (false); IOX2_FOREVER waits forever.
	bool wait(int64_t timeout_ns) {
		int rc = iox2_subscriber_wait(h_.get(), timeout_ns);
		if (rc == IOX2_E_TIMEOUT) return false;
		detail::check(rc, node_);
		return true;
	}

	uint64_t id() const { return iox2_subscriber_id(h_.get()); }
	iox2_subscriber *get() const noexcept { return h_.get(); }

private:
	detail::Handle<iox2_subscriber, detail::close_subscriber> h_;
	const iox2_node *node_;
};

// Notifier sends event ids.
class Notifier {
public:
	using CreateFn = int (*)(iox2_service *, iox2_notifier **);

	// Notifier creates a notifier with a function that iox2gen generated
	// (robot_Alarm_notifier_create), which applies the IDL's default event id.
	Notifier(Service &svc, CreateFn create) : h_(detail::make<iox2_notifier>(svc, create)), node_(svc.node()) {}
	// Notifier creates a notifier whose notify() sends default_event_id
	// (IOX2_UNSET: 0).
	static Notifier with_default_event_id(Service &svc, int64_t default_event_id) {
		return Notifier(with_fn{}, svc, [default_event_id](iox2_service *s, iox2_notifier **out) { return iox2_notifier_create(s, default_event_id, out); });
	}
	// Notifier creates a notifier whose notify() sends event id 0.
	explicit Notifier(Service &svc) : Notifier(with_default_event_id(svc, -1 /* IOX2_UNSET */)) {}

	// notify sends the default event id and returns how many listeners it reached.
	std::size_t notify() {
		std::size_t n = 0;
		detail::check(iox2_notifier_notify(h_.get(), &n), node_);
		return n;
	}
	std::size_t notify(uint64_t event_id) {
		std::size_t n = 0;
		detail::check(iox2_notifier_notify_id(h_.get(), event_id, &n), node_);
		return n;
	}

	uint64_t id() const { return iox2_notifier_id(h_.get()); }
	iox2_notifier *get() const noexcept { return h_.get(); }

private:
	struct with_fn {};
	template <class Fn>
	Notifier(with_fn, Service &svc, Fn create) : h_(detail::make<iox2_notifier>(svc, create)), node_(svc.node()) {}

	detail::Handle<iox2_notifier, detail::close_notifier> h_;
	const iox2_node *node_;
};

// Listener receives event ids.
class Listener {
public:
	using CreateFn = int (*)(iox2_service *, iox2_listener **);

	Listener(Service &svc, CreateFn create) : h_(detail::make<iox2_listener>(svc, create)), node_(svc.node()) {}
	explicit Listener(Service &svc) : h_(detail::make<iox2_listener>(svc, iox2_listener_create)), node_(svc.node()) {}

	// wait_one takes one pending event id, waiting at most timeout_ns
	// (0: try once); empty on timeout.
	std::optional<uint64_t> wait_one(int64_t timeout_ns) {
		uint64_t id = 0;
		int rc = iox2_listener_wait_one(h_.get(), timeout_ns, &id);
		if (rc == IOX2_E_TIMEOUT) return std::nullopt;
		detail::check(rc, node_);
		return id;
	}
	// wait_all waits at most timeout_ns for the first event, then calls
	// fn(event_id) once per pending event id; it returns how many. fn must
	// not throw.
	template <class F>
	std::size_t wait_all(int64_t timeout_ns, F &&fn) {
		using Fn = std::remove_reference_t<F>;
		std::size_t n = 0;
		void *ctx = const_cast<void *>(static_cast<const void *>(&fn));
		auto call = [](void *c, uint64_t id) { (*static_cast<Fn *>(c))(id); };
		int rc = iox2_listener_wait_all(h_.get(), timeout_ns, call, ctx, &n);
		if (rc == IOX2_E_TIMEOUT) return 0;
		detail::check(rc, node_);
		return n;
	}

	uint64_t id() const { return iox2_listener_id(h_.get()); }
	iox2_listener *get() const noexcept { return h_.get(); }

private:
	detail::Handle<iox2_listener, detail::close_listener> h_;
	const iox2_node *node_;
};

// Response is a received response, or none (false); the destructor gives
// it back.
template <class Resp>
class Response {
public:
	explicit Response(const iox2_response *r = nullptr) noexcept : h_(r) {}
	explicit operator bool() const noexcept { return static_cast<bool>(h_); }

	const Resp *payload() const noexcept { return static_cast<const Resp *>(iox2_response_payload(h_.get())); }
	const Resp &operator*() const noexcept { return *payload(); }
	const Resp *operator->() const noexcept { return payload(); }
	uint64_t len() const noexcept { return iox2_response_len(h_.get()); }
	const Resp &operator[](std::size_t i) const noexcept { return payload()[i]; }
	const Resp *begin() const noexcept { return payload(); }
	const Resp *end() const noexcept { return payload() + len(); }
	uint64_t server() const noexcept { return iox2_response_server(h_.get()); }

private:
	detail::Handle<const iox2_response, detail::release_response> h_;
};

// Wait is how a wait for a response ended.
enum class Wait { ready, timeout, ended };

// PendingResponse is the stream of responses to a sent request; the
// destructor gives the request slot up.
template <class Resp>
class PendingResponse {
public:
	PendingResponse(iox2_pending_response *p, const iox2_node *node) noexcept : h_(p), node_(node) {}

	// receive takes the next response; false when none is there, also
	// once the stream ended, which ended() then says.
	Response<Resp> receive() {
		const iox2_response *r = nullptr;
		int rc = iox2_pending_response_receive(h_.get(), &r);
		if (rc == IOX2_E_STREAM_ENDED) {
			ended_ = true;
			return Response<Resp>();
		}
		detail::check(rc, node_);
		return Response<Resp>(r);
	}
	// wait blocks until a response can be received or the stream ended,
	// at most timeout_ns.
	Wait wait(int64_t timeout_ns) {
		int rc = iox2_pending_response_wait(h_.get(), timeout_ns);
		if (rc == IOX2_E_TIMEOUT) return Wait::timeout;
		if (rc == IOX2_E_STREAM_ENDED) {
			ended_ = true;
			return Wait::ended;
		}
		detail::check(rc, node_);
		return Wait::ready;
	}
	bool ended() const noexcept { return ended_; }
	bool is_connected() { return iox2_pending_response_is_connected(h_.get()); }
	void set_disconnect_hint() { iox2_pending_response_set_disconnect_hint(h_.get()); }
	uint64_t request_id() const { return iox2_pending_response_request_id(h_.get()); }

private:
	detail::Handle<iox2_pending_response, detail::close_pending_response> h_;
	const iox2_node *node_;
	bool ended_ = false;
};

// RequestMut is a loaned request: send it, or let the destructor release it.
template <class Req, class Resp>
class RequestMut {
public:
	RequestMut(iox2_request_mut *r, const iox2_node *node) noexcept : h_(r), node_(node) {}

	Req *payload() noexcept { return static_cast<Req *>(iox2_request_mut_payload(h_.get())); }
	Req &operator*() noexcept { return *payload(); }
	Req *operator->() noexcept { return payload(); }
	uint64_t len() const noexcept { return iox2_request_mut_len(h_.get()); }
	Req &operator[](std::size_t i) noexcept { return payload()[i]; }
	Req *begin() noexcept { return payload(); }
	Req *end() noexcept { return payload() + len(); }

	// send sends the request; the loan ends, also when it throws.
	PendingResponse<Resp> send() {
		iox2_pending_response *p = nullptr;
		detail::check(iox2_request_mut_send(h_.release(), &p), node_);
		return PendingResponse<Resp>(p, node_);
	}

private:
	detail::Handle<iox2_request_mut, detail::release_request_mut> h_;
	const iox2_node *node_;
};

// Client sends requests of Req and receives streams of Resp.
template <class Req, class Resp>
class Client {
public:
	using CreateFn = int (*)(iox2_service *, iox2_client **);

	Client(Service &svc, CreateFn create) : h_(detail::make<iox2_client>(svc, create)), node_(svc.node()) {}
	// Client creates a client with options o, or the defaults.
	Client(Service &svc, const iox2_client_options &o)
	    : h_(detail::make<iox2_client>(svc, [&o](iox2_service *s, iox2_client **out) { return iox2_client_create(s, &o, out); })),
	      node_(svc.node()) {}
	explicit Client(Service &svc)
	    : h_(detail::make<iox2_client>(svc, [](iox2_service *s, iox2_client **out) { return iox2_client_create(s, nullptr, out); })),
	      node_(svc.node()) {}

	RequestMut<Req, Resp> loan(uint64_t len = 1) {
		iox2_request_mut *r = nullptr;
		detail::check(iox2_client_loan(h_.get(), len, &r), node_);
		return RequestMut<Req, Resp>(r, node_);
	}
	RequestMut<Req, Resp> loan_uninit(uint64_t len = 1) {
		iox2_request_mut *r = nullptr;
		detail::check(iox2_client_loan_uninit(h_.get(), len, &r), node_);
		return RequestMut<Req, Resp>(r, node_);
	}
	// send_copy sends a copy of value as a request.
	PendingResponse<Resp> send_copy(const Req &value) {
		RequestMut<Req, Resp> r = loan_uninit();
		std::memcpy(static_cast<void *>(r.payload()), &value, sizeof(Req));
		return r.send();
	}

	uint64_t id() const { return iox2_client_id(h_.get()); }
	iox2_client *get() const noexcept { return h_.get(); }

private:
	detail::Handle<iox2_client, detail::close_client> h_;
	const iox2_node *node_;
};

// ResponseMut is a loaned response: send it, or let the destructor
// release it.
template <class Resp>
class ResponseMut {
public:
	ResponseMut(iox2_response_mut *r, const iox2_node *node) noexcept : h_(r), node_(node) {}

	Resp *payload() noexcept { return static_cast<Resp *>(iox2_response_mut_payload(h_.get())); }
	Resp &operator*() noexcept { return *payload(); }
	Resp *operator->() noexcept { return payload(); }
	uint64_t len() const noexcept { return iox2_response_mut_len(h_.get()); }
	Resp &operator[](std::size_t i) noexcept { return payload()[i]; }
	Resp *begin() noexcept { return payload(); }
	Resp *end() noexcept { return payload() + len(); }

	// send sends the response; the loan ends, also when it throws.
	void send() { detail::check(iox2_response_mut_send(h_.release()), node_); }

private:
	detail::Handle<iox2_response_mut, detail::release_response_mut> h_;
	const iox2_node *node_;
};

// ActiveRequest is a received request, or none (false); answer it with
// any number of responses. The destructor ends the stream.
template <class Req, class Resp>
class ActiveRequest {
public:
	ActiveRequest(iox2_active_request *r, const iox2_node *node) noexcept : h_(r), node_(node) {}
	explicit operator bool() const noexcept { return static_cast<bool>(h_); }

	const Req *payload() const noexcept { return static_cast<const Req *>(iox2_active_request_payload(h_.get())); }
	const Req &operator*() const noexcept { return *payload(); }
	const Req *operator->() const noexcept { return payload(); }
	uint64_t len() const noexcept { return iox2_active_request_len(h_.get()); }
	const Req &operator[](std::size_t i) const noexcept { return payload()[i]; }
	const Req *begin() const noexcept { return payload(); }
	const Req *end() const noexcept { return payload() + len(); }
	uint64_t client() const noexcept { return iox2_active_request_client(h_.get()); }
	uint64_t request_id() const noexcept { return iox2_active_request_id(h_.get()); }
	bool is_connected() const { return iox2_active_request_is_connected(h_.get()); }
	bool has_disconnect_hint() const { return iox2_active_request_has_disconnect_hint(h_.get()); }

	ResponseMut<Resp> loan(uint64_t len = 1) {
		iox2_response_mut *r = nullptr;
		detail::check(iox2_active_request_loan(h_.get(), len, &r), node_);
		return ResponseMut<Resp>(r, node_);
	}
	ResponseMut<Resp> loan_uninit(uint64_t len = 1) {
		iox2_response_mut *r = nullptr;
		detail::check(iox2_active_request_loan_uninit(h_.get(), len, &r), node_);
		return ResponseMut<Resp>(r, node_);
	}
	// send_copy sends a copy of value as a response.
	void send_copy(const Resp &value) {
		ResponseMut<Resp> r = loan_uninit();
		std::memcpy(static_cast<void *>(r.payload()), &value, sizeof(Resp));
		r.send();
	}

private:
	detail::Handle<iox2_active_request, detail::close_active_request> h_;
	const iox2_node *node_;
};

// Server receives requests of Req and answers them with Resp.
template <class Req, class Resp>
class Server {
public:
	using CreateFn = int (*)(iox2_service *, iox2_server **);

	Server(Service &svc, CreateFn create) : h_(detail::make<iox2_server>(svc, create)), node_(svc.node()) {}
	// Server creates a server with options o, or the defaults.
	Server(Service &svc, const iox2_server_options &o)
	    : h_(detail::make<iox2_server>(svc, [&o](iox2_service *s, iox2_server **out) { return iox2_server_create(s, &o, out); })),
	      node_(svc.node()) {}
	explicit Server(Service &svc)
	    : h_(detail::make<iox2_server>(svc, [](iox2_service *s, iox2_server **out) { return iox2_server_create(s, nullptr, out); })),
	      node_(svc.node()) {}

	// receive takes the next request; false when none is there.
	ActiveRequest<Req, Resp> receive() {
		iox2_active_request *r = nullptr;
		detail::check(iox2_server_receive(h_.get(), &r), node_);
		return ActiveRequest<Req, Resp>(r, node_);
	}
	// wait blocks until a request can be received (true) or timeout_ns
	// passed (false).
	bool wait(int64_t timeout_ns) {
		int rc = iox2_server_wait(h_.get(), timeout_ns);
		if (rc == IOX2_E_TIMEOUT) return false;
		detail::check(rc, node_);
		return true;
	}

	uint64_t id() const { return iox2_server_id(h_.get()); }
	iox2_server *get() const noexcept { return h_.get(); }

private:
	detail::Handle<iox2_server, detail::close_server> h_;
	const iox2_node *node_;
};

} // namespace iox2go

#endif // IOX2GO_HPP
