-- wrk: POST {"token": …} with a different token from a file for every request.
-- Arguments after `--`: the token file, then an optional bearer key.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  headers = { ["Content-Type"] = "application/json" }
  if args[2] then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  counter = id
  step = 2
end

function request()
  local token = tokens[(counter % #tokens) + 1]
  counter = counter + step
  return wrk.format("POST", nil, headers, '{"token":"' .. token .. '"}')
end
