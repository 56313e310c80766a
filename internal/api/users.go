package api

import (
	"context"
	"errors"
	"net/http"

	"lifeboat/internal/access"
)

// Users is what an admin manages of the users, when the Authority keeps
// them (the access store does).
type Users interface {
	Users(ctx context.Context) ([]access.UserInfo, error)
	AddUser(ctx context.Context, by, name string, role access.Role, password string) error
	SetRole(ctx context.Context, by, user string, role access.Role) error
	RemoveUser(ctx context.Context, by, user string) error
}

func (s *Server) users() (Users, error) {
	u, ok := s.Authority.(Users)
	if !ok {
		return nil, fail(http.StatusNotImplemented, "this server keeps no users")
	}

	return u, nil
}

// storeError is a store's refusal as an answer: a name that is not there,
// one that is, or a request the store finds wrong.
func storeError(err error) error {
	switch {
	case errors.Is(err, access.ErrNotFound):
		return fail(http.StatusNotFound, "%v", err)
	case errors.Is(err, access.ErrExists):
		return fail(http.StatusConflict, "%v", err)
	}

	return fail(http.StatusBadRequest, "%v", err)
}

func listUsers(s *Server, w http.ResponseWriter, r *http.Request, _ access.Principal) error {
	us, err := s.users()
	if err != nil {
		return err
	}

	out, err := us.Users(r.Context())
	if err != nil {
		return err
	}

	if out == nil {
		out = []access.UserInfo{}
	}

	return writeJSON(w, http.StatusOK, out)
}

type userRequest struct {
	Name     string      `json:"name"`
	Role     access.Role `json:"role"`
	Password string      `json:"password"`
}

func addUser(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	us, err := s.users()
	if err != nil {
		return err
	}

	var req userRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	if err := us.AddUser(r.Context(), actor(p), req.Name, req.Role, req.Password); err != nil {
		return storeError(err)
	}

	return writeJSON(w, http.StatusCreated, map[string]any{"name": req.Name, "role": req.Role})
}

type roleRequest struct {
	Role access.Role `json:"role"`
}

func setRole(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	us, err := s.users()
	if err != nil {
		return err
	}

	var req roleRequest
	if err := decode(r, &req); err != nil {
		return err
	}

	if err := us.SetRole(r.Context(), actor(p), r.PathValue("name"), req.Role); err != nil {
		return storeError(err)
	}

	return writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "role": req.Role})
}

func removeUser(s *Server, w http.ResponseWriter, r *http.Request, p access.Principal) error {
	us, err := s.users()
	if err != nil {
		return err
	}

	if r.PathValue("name") == p.Name && p.Kind == "user" {
		return fail(http.StatusBadRequest, "you cannot remove yourself: another admin can")
	}

	if err := us.RemoveUser(r.Context(), actor(p), r.PathValue("name")); err != nil {
		return storeError(err)
	}

	w.WriteHeader(http.StatusNoContent)

	return nil
}
