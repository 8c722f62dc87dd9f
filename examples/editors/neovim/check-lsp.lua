-- buildg-dap-lsp.lua with Neovim's own LSP client in headless Neovim, against a real
-- buildkitd; no plugins needed:
--   nvim --headless --clean -n -c "luafile check-lsp.lua"
-- with BUILDG_DAP_BUILDER (a buildkitd address) and optionally BUILDG_DAP_LSP_COMMAND (the
-- server's command line, default "buildg-dap lsp"). Opens a Dockerfile it writes to a
-- temporary folder and checks what the server gives: BuildKit's FromAsCasing and
-- MaintainerDeprecated as diagnostics, a "Debug to here" lens on each step line and
-- "Debug stage" lenses, the stages as document symbols, the breakable lines, a hover
-- value; after an edit and :write, the diagnostics and lenses of the saved file. Then it
-- runs the "Debug to here" lens: without nvim-dap it must say that nvim-dap is needed;
-- with nvim-dap on the runtimepath (and BUILDG_DAP_COMMAND, the adapter's command line,
-- default "buildg-dap dap") the session must stop at that line and the lens's breakpoint
-- go when the build ends, then "Debug stage base" must launch with that target. Exits 0
-- on success, 1 on a failure.
local here = debug.getinfo(1, 'S').source:sub(2):match('(.*/)')

local function say(text)
  io.stdout:write(text .. '\n')
end

local function fail(message)
  io.stderr:write('FAILED: ' .. message .. '\n')
  vim.cmd('cquit 1')
end

local function check(ok, message)
  if not ok then error(message, 2) end
end

local function wait(what, ms, predicate)
  check(vim.wait(ms, predicate, 50), 'timed out waiting for ' .. what)
end

local function env(name, default)
  local value = os.getenv(name) or default
  check(value, name .. ' is not set')
  return value
end

local function words(text)
  return vim.split(text, ' ', { trimempty = true })
end

local DOCKERFILE = [[
FROM busybox as base
MAINTAINER x
ARG GREETING=hi
RUN echo "$GREETING" > /hi

FROM busybox AS final
WORKDIR /src
COPY --from=base /hi /src/hi
]]
-- 0-based: the steps (FROM, RUN, WORKDIR, COPY) and the stages' lenses.
local STEPS = { 0, 3, 5, 6, 7 }
local STAGES = { { 0, 'base' }, { 5, '' } }

local function request(bufnr, method, params)
  local answers, err = vim.lsp.buf_request_sync(bufnr, method, params, 30000)
  check(answers, method .. ': ' .. tostring(err))
  local _, answer = next(answers)
  check(answer and not answer.err, method .. ': ' .. vim.inspect(answer))
  return answer.result
end

local function main()
  local buildg = dofile(here .. 'buildg-dap-lsp.lua')
  buildg.cmd = words(env('BUILDG_DAP_LSP_COMMAND', 'buildg-dap lsp'))
  buildg.builder = env('BUILDG_DAP_BUILDER')

  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, 'p')
  local path = dir .. '/Dockerfile'
  vim.fn.writefile(vim.split(DOCKERFILE, '\n', { trimempty = true }), path)
  vim.cmd('edit ' .. vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  local uri = vim.uri_from_bufnr(bufnr)
  check(vim.bo.filetype == 'dockerfile', 'filetype is ' .. vim.bo.filetype)
  wait('the server to attach', 30000, function()
    return next(vim.lsp.buf_get_clients(bufnr)) ~= nil
  end)

  -- Diagnostics: BuildKit's checks, with the rule as the code.
  local rules = {}
  wait('the diagnostics', 60000, function()
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do rules[d.code] = d end
    return rules.FromAsCasing and rules.MaintainerDeprecated
  end)
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    say(('diagnostic line %d: %s %s: %s'):format(d.lnum + 1, d.source, d.code, d.message))
  end
  check(rules.FromAsCasing.lnum == 0 and rules.FromAsCasing.source == 'buildkit',
    'FromAsCasing: ' .. vim.inspect(rules.FromAsCasing))
  check(rules.MaintainerDeprecated.lnum == 1, 'MaintainerDeprecated: ' .. vim.inspect(rules.MaintainerDeprecated))

  -- Code lenses, as vim.lsp.codelens.refresh() stored them on attach.
  wait('the code lenses', 30000, function() return #vim.lsp.codelens.get(bufnr) > 0 end)
  local to_here, stages = {}, {}
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
    local line, c = lens.range.start.line, lens.command
    say(('lens line %d: %s %s %s'):format(line + 1, c.title, c.command, vim.inspect(c.arguments)))
    if c.command == 'buildg-dap.debugToHere' then
      check(c.title == 'Debug to here' and c.arguments[1] == uri and c.arguments[2] == line,
        'Debug to here lens: ' .. vim.inspect(lens))
      table.insert(to_here, line)
    elseif c.command == 'buildg-dap.debugStage' then
      check(c.arguments[1] == uri, 'Debug stage lens: ' .. vim.inspect(lens))
      table.insert(stages, { line, c.arguments[2] })
    end
  end
  table.sort(to_here)
  table.sort(stages, function(a, b) return a[1] < b[1] end)
  check(vim.deep_equal(to_here, STEPS), '"Debug to here" on lines ' .. vim.inspect(to_here))
  check(vim.deep_equal(stages, STAGES), '"Debug stage" lenses ' .. vim.inspect(stages))

  -- Document symbols: the two stages with their instructions.
  local symbols = request(bufnr, 'textDocument/documentSymbol', { textDocument = { uri = uri } })
  local outline = {}
  for _, s in ipairs(symbols) do
    local children = {}
    for _, c in ipairs(s.children or {}) do table.insert(children, c.name) end
    say(('symbol %s (%s): %s'):format(s.name, s.detail or '', table.concat(children, ', ')))
    outline[s.name] = children
  end
  check(outline.base and vim.deep_equal(outline.base, { 'MAINTAINER x', 'ARG GREETING=hi', 'RUN echo "$GREETING" > /hi' }),
    'stage base: ' .. vim.inspect(symbols))
  check(outline.final and #outline.final == 2, 'stage final: ' .. vim.inspect(symbols))

  -- The custom request for breakable lines, and hover.
  local breakable = request(bufnr, 'buildg-dap/breakableLines', { uri = uri })
  local starts = {}
  for _, r in ipairs(breakable.ranges) do table.insert(starts, r.start) end
  check(vim.deep_equal(starts, STEPS), 'breakable lines: ' .. vim.inspect(breakable))
  local hover = request(bufnr, 'textDocument/hover', { textDocument = { uri = uri }, position = { line = 3, character = 12 } })
  say('hover on $GREETING: ' .. hover.contents.value:gsub('\n.*', ''))
  check(vim.startswith(hover.contents.value, '`GREETING` = `hi`'), 'hover: ' .. vim.inspect(hover))

  -- An edit and :write: linted again, the lenses refreshed.
  vim.api.nvim_buf_set_lines(bufnr, 1, 2, false, { 'LABEL maintainer=x' })
  vim.api.nvim_buf_set_lines(bufnr, -1, -1, false, { 'RUN true' })
  vim.cmd('silent write')
  wait('the diagnostics of the saved file', 60000, function()
    local codes = {}
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do table.insert(codes, d.code) end
    return vim.deep_equal(codes, { 'FromAsCasing' })
  end)
  wait('a lens on the new RUN line', 30000, function()
    for _, lens in ipairs(vim.lsp.codelens.get(bufnr)) do
      if lens.range.start.line == 8 and lens.command.command == 'buildg-dap.debugToHere' then return true end
    end
  end)
  say('after the save: FromAsCasing only, "Debug to here" on line 9')

  -- The "Debug to here" lens on the RUN line, run as :lua vim.lsp.codelens.run() does.
  local notes = {}
  local notify = vim.notify
  vim.notify = function(message, level)
    table.insert(notes, message)
    notify(message, level)
  end
  vim.api.nvim_win_set_cursor(0, { 4, 0 })
  local has_dap, dap = pcall(require, 'dap')
  if not has_dap then
    vim.lsp.codelens.run()
    say('Debug to here without nvim-dap: ' .. (notes[1] or '(nothing)'))
    check(notes[1] and notes[1]:find('needs nvim%-dap'), 'no message about nvim-dap: ' .. vim.inspect(notes))
  else
    dofile(here .. 'buildg-dap.lua')
    local adapter = words(env('BUILDG_DAP_COMMAND', 'buildg-dap dap'))
    dap.adapters['buildg-dap'].command = adapter[1]
    dap.adapters['buildg-dap'].args = vim.list_slice(adapter, 2)
    local ended = false
    dap.listeners.after.event_terminated['check-lsp'] = function() ended = true end
    vim.lsp.codelens.run()
    local function line_breakpoints()
      local lines = {}
      for _, bp in ipairs(require('dap.breakpoints').get(bufnr)[bufnr] or {}) do table.insert(lines, bp.line) end
      return lines
    end
    check(vim.deep_equal(line_breakpoints(), { 4 }), 'breakpoints: ' .. vim.inspect(line_breakpoints()))
    wait('the stop at line 4', 180000, function()
      local s = dap.session()
      return s ~= nil and s.current_frame ~= nil
    end)
    local frame = dap.session().current_frame
    say(('Debug to here: %s, stopped at %s line %d'):format(dap.session().config.name, frame.name, frame.line))
    check(frame.line == 4, 'stopped at line ' .. frame.line)
    dap.continue()
    wait('the end of the build', 180000, function() return ended end)
    check(#line_breakpoints() == 0, 'the lens breakpoint stayed: ' .. vim.inspect(line_breakpoints()))
    say('build ended, the lens breakpoint removed')

    -- "Debug stage base" on line 1, which also has a "Debug to here": picked from the list.
    local launched
    dap.listeners.after.launch['check-lsp'] = function(_, _, _, arguments) launched = arguments end
    vim.ui.select = function(options, _, choose)
      for _, option in ipairs(options) do
        if option.lens.command.command == 'buildg-dap.debugStage' then return choose(option) end
      end
    end
    ended = false
    vim.api.nvim_win_set_cursor(0, { 1, 0 })
    vim.lsp.codelens.run()
    wait('the stage build to end', 180000, function() return ended end)
    say(('Debug stage: %s, target %s, build ended'):format(launched and launched.name, launched and launched.target))
    check(launched and launched.target == 'base', 'launched ' .. vim.inspect(launched))
  end
  say('check-lsp: OK')
end

local ok, err = xpcall(main, debug.traceback)
if ok then
  vim.cmd('qall!')
else
  fail(tostring(err))
end
