-- A domain may be verified by several workspaces, each through its own TXT record
-- (issue 12.1: "a domain verified by another workspace can still be verified here only
-- through this workspace's own record"). The lookups by name keep an index.
DROP INDEX domains_verified;
CREATE INDEX domains_domain ON domains(domain, status);
