-- wrk script for bench/signin_storm.sh: POST /login with a wrong password, forever.
--
-- LOGIN_BODY   the urlencoded form (csrf_token, email, password, next)
-- LOGIN_COOKIE the anonymous gatehouse_session value the csrf_token belongs to
--
-- Counts the statuses per thread and prints them at the end, so the storm is known to
-- have reached the password check (422) rather than failing on CSRF (403) or anything else.

local body = os.getenv("LOGIN_BODY") or error("LOGIN_BODY is not set")
local cookie = os.getenv("LOGIN_COOKIE") or error("LOGIN_COOKIE is not set")

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "gatehouse_session=" .. cookie

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local totals = {}
    for _, thread in ipairs(threads) do
        local counts = thread:get("statuses")
        for status, n in pairs(counts) do
            totals[status] = (totals[status] or 0) + n
        end
    end
    for status, n in pairs(totals) do
        io.write(string.format("status %d: %d\n", status, n))
    end
end
