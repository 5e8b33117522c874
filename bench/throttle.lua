-- wrk script: submissions from ever new client addresses (through a trusted proxy's
-- X-Forwarded-For), to measure the throttle's memory with a million distinct addresses.
-- The body is refused (422) after the throttle has counted it, so the database stays small.
local counter = 0
local base = 0
local threads = 0

function setup(thread)
  thread:set("base", threads * 16777216)
  threads = threads + 1
end

function request()
  counter = counter + 1
  local a = base + counter
  local ip = string.format("%d.%d.%d.%d", 10 + math.floor(a / 16777216) % 200,
    math.floor(a / 65536) % 256, math.floor(a / 256) % 256, a % 256)
  return wrk.format("POST", "/installation_data/",
    {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, "[]")
end
