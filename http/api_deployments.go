package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
)

// DeploymentPath names a deployment request of an account in a path.
type DeploymentPath struct {
	AccountPath
	Deployment string `path:"deployment" maxLength:"64" doc:"Deployment request id (dep_…)."`
}

func (s *Server) registerDeployments() {
	type deploymentOut struct{ Body *billow.Deployment }

	type requestIn struct {
		AccountPath
		Body billow.RequestDeploymentInput
	}
	register(s, operation("requestDeployment", http.MethodPost, "/v1/accounts/{account}/deployments", "Request a deployment", "Deployments",
		"Records a member's request to deploy an app, pending until an owner or admin approves or rejects it. Any member "+
			"may ask, developers included; app and requested_by are ids or external ids of the account's app and member."),
		func(ctx context.Context, in *requestIn) (*deploymentOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			d, err := s.store.RequestDeployment(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &deploymentOut{Body: d}, nil
		})

	type listIn struct {
		AccountPath
		PageParams
		Status string `query:"status" enum:"pending,approved,rejected" doc:"Only requests with this status."`
		App    string `query:"app" maxLength:"255" doc:"Only requests for this app (id or external id)."`
	}
	type listOut struct {
		Body billow.Page[*billow.Deployment]
	}
	register(s, operation("listDeployments", http.MethodGet, "/v1/accounts/{account}/deployments", "List deployment requests", "Deployments",
		"Lists the account's deployment requests with their decisions and reasons, newest first."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			f := billow.DeploymentFilter{Status: billow.DeploymentStatus(in.Status), App: in.App}
			page, err := s.store.ListDeployments(ctx, a.ID, f, in.input())
			if err != nil {
				return nil, s.inQuery(ctx, err)
			}
			return &listOut{Body: page}, nil
		})

	type getIn struct{ DeploymentPath }
	register(s, operation("getDeployment", http.MethodGet, "/v1/accounts/{account}/deployments/{deployment}", "Get a deployment request", "Deployments",
		"Returns a deployment request with its decision, if made."),
		func(ctx context.Context, in *getIn) (*deploymentOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			d, err := s.store.Deployment(ctx, a.ID, in.Deployment)
			if err != nil {
				return nil, err
			}
			return &deploymentOut{Body: d}, nil
		})

	type approveIn struct {
		DeploymentPath
		Body billow.ApproveDeploymentInput
	}
	register(s, withStatus(http.StatusOK, operation("approveDeployment", http.MethodPost, "/v1/accounts/{account}/deployments/{deployment}/approve",
		"Approve a deployment", "Deployments",
		"Approves a pending request. decided_by is an owner or admin of the account. Refused with credits_exhausted while "+
			"the wallet has no free, promotional or paid credits left (seed 000, Deployment Flow); with "+
			"deployment_already_decided once the request was approved or rejected.")),
		func(ctx context.Context, in *approveIn) (*deploymentOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			d, err := s.store.ApproveDeployment(ctx, a.ID, in.Deployment, in.Body)
			if err != nil {
				return nil, err
			}
			return &deploymentOut{Body: d}, nil
		})

	type rejectIn struct {
		DeploymentPath
		Body billow.RejectDeploymentInput
	}
	register(s, withStatus(http.StatusOK, operation("rejectDeployment", http.MethodPost, "/v1/accounts/{account}/deployments/{deployment}/reject",
		"Reject a deployment", "Deployments",
		"Rejects a pending request with a reason, which is kept. decided_by is an owner or admin of the account. "+
			"Refused with deployment_already_decided once the request was approved or rejected.")),
		func(ctx context.Context, in *rejectIn) (*deploymentOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			d, err := s.store.RejectDeployment(ctx, a.ID, in.Deployment, in.Body)
			if err != nil {
				return nil, err
			}
			return &deploymentOut{Body: d}, nil
		})
}
