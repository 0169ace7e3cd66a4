// Package proto holds the private gRPC wire protocol between the pipeline
// host (plugins/host) and plugin binaries (plugins/sdk), plus the go-plugin
// handshake both sides share. Plugin authors never import it.
//
// The generated files stage.pb.go and stage_grpc.pb.go are committed so that
// builds need no protoc. Regenerate them (needs protoc >= 3.21 from Debian
// protobuf-compiler, protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.2 on
// PATH) with:
//
//	go generate ./plugins/internal/proto
package proto

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative stage.proto
