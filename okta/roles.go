package okta

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// RoleAssignment is one admin role a user or group holds, as Okta's role-assignment API
// lists it.
type RoleAssignment struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Type   string `json:"type"`   // SUPER_ADMIN, ORG_ADMIN, …, CUSTOM
	Status string `json:"status"` // ACTIVE
	// AssignmentType says how the user holds it: USER (to them) or GROUP (through a group).
	AssignmentType string `json:"assignmentType"`
}

// maxAssigneePages bounds the assignee list (200 a page): far more admins than any org has.
const maxAssigneePages = 500

// ListRoleAssignees returns the ids of the users holding an admin role
// (GET /api/v1/iam/assignees/users), following Okta's next links within the org.
func (c *Client) ListRoleAssignees(ctx context.Context) ([]string, error) {
	path := "/api/v1/iam/assignees/users?limit=200"
	var ids []string
	for range maxAssigneePages {
		var page struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			Links struct {
				Next struct {
					Href string `json:"href"`
				} `json:"next"`
			} `json:"_links"`
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		for _, v := range page.Value {
			ids = append(ids, v.ID)
		}
		if page.Links.Next.Href == "" {
			return ids, nil
		}
		next, err := c.samePath(page.Links.Next.Href, "/api/v1/iam/assignees/users")
		if err != nil {
			return nil, err
		}
		path = next
	}
	return nil, errors.New("GET /api/v1/iam/assignees/users: more pages than any org has")
}

// UserRoles lists the admin roles a user holds, directly or through a group.
func (c *Client) UserRoles(ctx context.Context, userID string) ([]RoleAssignment, error) {
	var out []RoleAssignment
	return out, c.do(ctx, http.MethodGet, "/api/v1/users/"+url.PathEscape(userID)+"/roles", nil, &out)
}

// GroupRoles lists the admin roles assigned to a group.
func (c *Client) GroupRoles(ctx context.Context, groupID string) ([]RoleAssignment, error) {
	var out []RoleAssignment
	return out, c.do(ctx, http.MethodGet, "/api/v1/groups/"+url.PathEscape(groupID)+"/roles", nil, &out)
}

// samePath checks that a link Okta gave stays on the org and on path, so that an answer
// cannot send the client, and its credentials, elsewhere; it returns the link's path and query.
func (c *Client) samePath(link, path string) (string, error) {
	u, err := url.Parse(link)
	org, oerr := url.Parse(strings.TrimRight(c.OrgURL, "/"))
	if err != nil || oerr != nil || u.Scheme != org.Scheme || u.Host != org.Host || u.Path != path {
		return "", errors.New(path + ": the next link leaves the org")
	}
	return u.RequestURI(), nil
}
