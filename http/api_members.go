package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
)

// MemberPath names a member of an account in a path.
type MemberPath struct {
	AccountPath
	Member string `path:"member" maxLength:"255" doc:"Member id (mem_…) or external id."`
}

func (s *Server) registerMembers() {
	type memberOut struct{ Body *billow.Member }

	type createIn struct {
		AccountPath
		Body billow.CreateMemberInput
	}
	register(s, operation("createMember", http.MethodPost, "/v1/accounts/{account}/members", "Add a member", "Members",
		"Adds a person to the account with a role: owner, admin, billing or developer. Billing emails go to members by role."),
		func(ctx context.Context, in *createIn) (*memberOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			m, err := s.store.CreateMember(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &memberOut{Body: m}, nil
		})

	type listIn struct {
		AccountPath
		PageParams
		Role string `query:"role" enum:"owner,admin,billing,developer" doc:"Only members with this role."`
	}
	type listOut struct{ Body billow.Page[*billow.Member] }
	register(s, operation("listMembers", http.MethodGet, "/v1/accounts/{account}/members", "List members", "Members",
		"Lists the account's members, newest first."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			page, err := s.store.ListMembers(ctx, a.ID, billow.Role(in.Role), in.input())
			if err != nil {
				return nil, err
			}
			return &listOut{Body: page}, nil
		})

	type getIn struct{ MemberPath }
	register(s, operation("getMember", http.MethodGet, "/v1/accounts/{account}/members/{member}", "Get a member", "Members",
		"Returns a member by id or external id."),
		func(ctx context.Context, in *getIn) (*memberOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			m, err := s.store.Member(ctx, a.ID, in.Member)
			if err != nil {
				return nil, err
			}
			return &memberOut{Body: m}, nil
		})

	type updateIn struct {
		MemberPath
		Body billow.UpdateMemberInput
	}
	register(s, operation("updateMember", http.MethodPatch, "/v1/accounts/{account}/members/{member}", "Update a member", "Members",
		"Changes a member's name or role."),
		func(ctx context.Context, in *updateIn) (*memberOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			m, err := s.store.UpdateMember(ctx, a.ID, in.Member, in.Body)
			if err != nil {
				return nil, err
			}
			return &memberOut{Body: m}, nil
		})

	type deleteIn struct{ MemberPath }
	register(s, operation("deleteMember", http.MethodDelete, "/v1/accounts/{account}/members/{member}", "Remove a member", "Members",
		"Removes a member from the account and returns it."),
		func(ctx context.Context, in *deleteIn) (*memberOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			m, err := s.store.DeleteMember(ctx, a.ID, in.Member)
			if err != nil {
				return nil, err
			}
			return &memberOut{Body: m}, nil
		})
}
