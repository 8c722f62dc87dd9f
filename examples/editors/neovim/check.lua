-- buildg-dap.lua driven by nvim-dap in headless Neovim, against a real buildkitd:
--   nvim --headless --clean -u NONE -c "set rtp+=NVIM_DAP_DIR" -c "luafile check.lua"
-- with BUILDG_DAP_BUILDER (a buildkitd address), BUILDG_DAP_DOCKERFILE (the seed
-- Dockerfile or a copy), optionally BUILDG_DAP_CACHE (a registry cache of it) and
-- BUILDG_DAP_COMMAND (the adapter's command line, default "buildg-dap dap"). Does what a
-- user does: breakpoint on line 5, :DapContinue with "Debug Dockerfile", read the Step
-- scope, `exec cat /hi` in the REPL, continue to the end. Exits 0 on success.
local here = debug.getinfo(1, 'S').source:sub(2):match('(.*/)')
dofile(here .. 'buildg-dap.lua')
local dap = require('dap')

local function env(name, default)
  local value = os.getenv(name) or default
  assert(value, name .. ' is not set')
  return value
end

local command = vim.split(env('BUILDG_DAP_COMMAND', 'buildg-dap dap'), ' ', { trimempty = true })
dap.adapters['buildg-dap'].command = command[1]
dap.adapters['buildg-dap'].args = vim.list_slice(command, 2)

local function fail(message)
  io.stderr:write('FAILED: ' .. message .. '\n')
  vim.cmd('cquit 1')
end

local function wait(what, ms, predicate)
  if not vim.wait(ms, predicate, 100) then
    fail('timed out waiting for ' .. what)
  end
end

local output = {}
dap.listeners.after.event_output['check'] = function(_, body)
  table.insert(output, body.output)
end
local ended = false
dap.listeners.after.event_terminated['check'] = function() ended = true end

vim.cmd('edit ' .. env('BUILDG_DAP_DOCKERFILE'))
assert(vim.bo.filetype == 'dockerfile', 'filetype is ' .. vim.bo.filetype)
vim.api.nvim_win_set_cursor(0, { 5, 0 })
dap.toggle_breakpoint()

local config = vim.deepcopy(dap.configurations.dockerfile[1])
config.builder = env('BUILDG_DAP_BUILDER')
if os.getenv('BUILDG_DAP_CACHE') then
  config.cacheFrom = { os.getenv('BUILDG_DAP_CACHE') }
end
dap.run(config)

wait('the stop at line 5', 180000, function()
  local s = dap.session()
  return s ~= nil and s.current_frame ~= nil
end)
local session = dap.session()
local frame = session.current_frame
print(('stopped at %s line %d'):format(frame.name, frame.line))
if frame.line ~= 5 then fail('stopped at line ' .. frame.line) end

local done, variables = false, nil
session:request('scopes', { frameId = frame.id }, function(err, scopes)
  assert(not err, err and err.message)
  session:request('variables', { variablesReference = scopes.scopes[1].variablesReference }, function(err2, result)
    assert(not err2, err2 and err2.message)
    variables, done = result.variables, true
  end)
end)
wait('the Step scope', 30000, function() return done end)
for _, v in ipairs(variables) do print(('  %s = %s'):format(v.name, v.value)) end

local answer
session:evaluate('exec cat /hi', function(err, result)
  answer = err and ('error: ' .. err.message) or result.result
end)
wait('exec cat /hi', 60000, function() return answer ~= nil end)
local text = table.concat(output)
print(('exec cat /hi: %s, output ends %q'):format(answer, text:sub(-40)))
if answer ~= 'exit code 0' or not text:find('\nhi\n$') and not text:find('^hi\n$') then
  fail('no "hi" from exec cat /hi')
end

dap.continue()
wait('the end of the build', 180000, function() return ended end)
print('build ended: OK')
vim.cmd('qall!')
