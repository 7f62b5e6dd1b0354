package momentotest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// rpcError is a gRPC status plus the value of the `err` trailer the SDK
// reads to refine NotFound, AlreadyExists and ResourceExhausted.
type rpcError struct {
	code codes.Code
	tag  string // `err` trailer; "" for none
	msg  string
}

func (e *rpcError) Error() string { return e.code.String() + ": " + e.msg }

func errorf(code codes.Code, tag, format string, args ...any) error {
	return &rpcError{code: code, tag: tag, msg: fmt.Sprintf(format, args...)}
}

func errCacheNotFound(name string) error {
	return errorf(codes.NotFound, "cache_not_found", "Cache not found: %q", name)
}

// call is one decoded request.
type call struct {
	ctx    context.Context
	method protoreflect.MethodDescriptor
	req    *dynamicpb.Message
	md     metadata.MD
}

// response returns an empty response message for the call's method.
func (c *call) response() *dynamicpb.Message {
	return dynamicpb.NewMessage(c.method.Output())
}

// header returns the first value of a request header, "" if absent.
func (c *call) header(key string) string {
	if v := c.md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

type unaryFunc func(*call) (*dynamicpb.Message, error)

// unary returns the handler of a unary method and whether it needs the
// `cache` header.
func (s *Server) unary(path string) (h unaryFunc, needsCache bool, ok bool) {
	switch path {
	case "/control_client.ScsControl/CreateCache":
		return s.createCache, false, true
	case "/control_client.ScsControl/DeleteCache":
		return s.deleteCache, false, true
	case "/control_client.ScsControl/ListCaches":
		return s.listCaches, false, true
	case "/cache_client.Ping/Ping":
		return func(c *call) (*dynamicpb.Message, error) { return c.response(), nil }, false, true
	case "/cache_client.Scs/Get":
		return s.get, true, true
	case "/cache_client.Scs/Set":
		return s.set, true, true
	case "/cache_client.Scs/SetIf":
		return s.setIf, true, true
	case "/cache_client.Scs/Delete":
		return s.delete, true, true
	case "/cache_client.Scs/Increment":
		return s.increment, true, true
	case "/cache_client.Scs/ListPushBack":
		return s.listPushBack, true, true
	case "/cache_client.Scs/ListFetch":
		return s.listFetch, true, true
	case "/cache_client.Scs/ListLength":
		return s.listLength, true, true
	case "/cache_client.Scs/ListRemove":
		return s.listRemove, true, true
	case "/cache_client.Scs/UpdateTtl":
		return s.updateTTL, true, true
	case "/cache_client.Scs/ItemGetTtl":
		return s.itemGetTTL, true, true
	case "/cache_client.pubsub.Pubsub/Publish":
		return s.publish, false, true
	}
	return nil, false, false
}

const subscribePath = "/cache_client.pubsub.Pubsub/Subscribe"

// handle serves every call: it is the grpc.UnknownServiceHandler.
func (s *Server) handle(_ any, ss grpc.ServerStream) (err error) {
	path, _ := grpc.MethodFromServerStream(ss)
	defer func() {
		// A panic here means the SDK's descriptors no longer match what this
		// package expects (a renamed field, say): report it, do not crash.
		if r := recover(); r != nil {
			err = status.Errorf(codes.Internal, "momentotest: %s: %v", path, r)
		}
		s.logCall(path, err)
		var re *rpcError
		if errors.As(err, &re) {
			if re.tag != "" {
				ss.SetTrailer(metadata.Pairs("err", re.tag))
			}
			err = status.Error(re.code, re.msg)
		}
	}()

	if path == subscribePath {
		s.subscribeCalls.Add(1)
	}
	s.countCall(path[strings.LastIndex(path, "/")+1:])
	md, err := s.lookup(path)
	if err != nil {
		return err
	}
	c := &call{ctx: ss.Context(), method: md}
	c.md, _ = metadata.FromIncomingContext(c.ctx)
	if err := s.admit(c); err != nil {
		return err
	}
	c.req = dynamicpb.NewMessage(md.Input())
	if err := ss.RecvMsg(c.req); err != nil {
		return err
	}

	if path == subscribePath {
		return s.subscribe(c, ss)
	}
	h, needsCache, ok := s.unary(path)
	if !ok || md.IsStreamingClient() || md.IsStreamingServer() {
		return status.Errorf(codes.Unimplemented, "momentotest does not implement %s", path)
	}
	kind := kindOf(path)
	if err := s.admitRate(kind, string(md.Name())); err != nil {
		return err
	}
	resp, err := s.serveUnary(c, h, needsCache)
	s.bill(kind, c, resp, err)
	if err != nil {
		return err
	}
	return ss.SendMsg(resp)
}

func (s *Server) serveUnary(c *call, h unaryFunc, needsCache bool) (*dynamicpb.Message, error) {
	if needsCache && c.header("cache") == "" {
		return nil, errorf(codes.InvalidArgument, "", "Missing required header: cache")
	}
	return h(c)
}

// lookup finds the method descriptor for a gRPC path such as
// "/cache_client.Scs/ListFetch".
func (s *Server) lookup(path string) (protoreflect.MethodDescriptor, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, status.Errorf(codes.Unimplemented, "momentotest: bad method %q", path)
	}
	name := protoreflect.FullName(strings.Replace(path[1:], "/", ".", 1))
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil, status.Errorf(codes.Unimplemented, "momentotest: unknown method %s", path)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "momentotest: %s is not a method", path)
	}
	return md, nil
}

// admit applies the outage switch, authentication and injected faults.
func (s *Server) admit(c *call) error {
	if s.unavailable.Load() {
		return status.Error(codes.Unavailable, "momentotest: server unavailable (SetUnavailable)")
	}
	if tok := s.opts.authToken; tok != "" && c.header("authorization") != tok {
		return status.Error(codes.Unauthenticated, "Invalid signature")
	}
	if code, ok := s.takeFault(string(c.method.Name())); ok {
		return status.Errorf(code, "momentotest: injected %s failure (FailNext)", code)
	}
	return nil
}

func (s *Server) logCall(path string, err error) {
	if err == nil {
		s.opts.log.Debug("momentotest call", "method", path)
		return
	}
	s.opts.log.Info("momentotest call failed", "method", path, "err", err)
}

// Field helpers for dynamic messages. Unknown field names panic; handle
// turns the panic into an Internal status.

func field(m protoreflect.Message, name string) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic(fmt.Sprintf("message %s has no field %q", m.Descriptor().FullName(), name))
	}
	return fd
}

func getBytes(m protoreflect.Message, name string) []byte {
	return append([]byte(nil), m.Get(field(m, name)).Bytes()...)
}

func getString(m protoreflect.Message, name string) string {
	return m.Get(field(m, name)).String()
}

func getUint(m protoreflect.Message, name string) uint64 {
	return m.Get(field(m, name)).Uint()
}

func getInt(m protoreflect.Message, name string) int64 {
	return m.Get(field(m, name)).Int()
}

func getBool(m protoreflect.Message, name string) bool {
	return m.Get(field(m, name)).Bool()
}

func set(m protoreflect.Message, name string, v protoreflect.Value) {
	m.Set(field(m, name), v)
}

// mutable returns the message in field name, allocating it. For a oneof
// arm this selects the arm, even when the message stays empty.
func mutable(m protoreflect.Message, name string) protoreflect.Message {
	return m.Mutable(field(m, name)).Message()
}

// whichOneof returns the name of the set arm of oneof name, "" if none.
func whichOneof(m protoreflect.Message, name string) protoreflect.Name {
	od := m.Descriptor().Oneofs().ByName(protoreflect.Name(name))
	if od == nil {
		panic(fmt.Sprintf("message %s has no oneof %q", m.Descriptor().FullName(), name))
	}
	if fd := m.WhichOneof(od); fd != nil {
		return fd.Name()
	}
	return ""
}
