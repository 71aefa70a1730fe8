// Package gateway implements the HTTP front door that forwards requests to
// inference workers.
package gateway

import (
	"context"
	"errors"
	"log"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server wraps http.Server with in-flight request tracking so shutdown can
// wait for streaming responses to finish.
type Server struct {
	httpServer *http.Server
	inFlight   atomic.Int64
	draining   atomic.Bool
	wg         sync.WaitGroup
}

// NewServer returns a server listening on addr that dispatches to handler.
func NewServer(addr string, handler http.Handler) *Server {
	s := &Server{}
	s.httpServer = &http.Server{
		Addr:              addr,
		Handler:           s.track(handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	return s
}

// track counts requests in flight and rejects new ones while draining.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
			http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
			return
		}
		s.wg.Add(1)
		s.inFlight.Add(1)
		defer func() {
			s.inFlight.Add(-1)
			s.wg.Done()
		}()
		next.ServeHTTP(w, r)
	})
}

// InFlight reports the number of requests currently being served.
func (s *Server) InFlight() int64 {
	return s.inFlight.Load()
}

// ListenAndServe blocks until the server stops. A clean shutdown returns nil.
func (s *Server) ListenAndServe() error {
	log.Printf("gateway listening on %s", s.httpServer.Addr)
	err := s.httpServer.ListenAndServe()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests and waits for in-flight ones to finish,
// up to the context deadline. Streaming responses are not interrupted until
// the deadline passes.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()

	select {
	case <-done:
	case <-ctx.Done():
		log.Printf("shutdown deadline reached with %d requests in flight", s.InFlight())
	}
	return s.httpServer.Shutdown(ctx)
}
