-- Neovim's built-in LSP client with buildg-dap's Dockerfile language server (`buildg-dap
-- lsp`): BuildKit's checks as diagnostics, the stages in the document symbols, the value
-- of a $VAR on hover, and the "Debug stage" / "Debug to here" code lenses, which start
-- nvim-dap with the adapter of buildg-dap.lua. For Neovim 0.7 and later. Load it from your
-- init.lua; it returns its settings, read whenever a server starts:
--   local buildg = dofile('/path/to/buildg-dap-lsp.lua')
--   buildg.builder = 'unix:///run/buildkit/buildkitd.sock'
-- In a Dockerfile: :lua vim.lsp.codelens.run() on a lens's line, :lua vim.lsp.buf.hover()
-- on a $VAR, :lua vim.lsp.buf.document_symbol(), :lua vim.diagnostic.setloclist().
local M = {
  -- The server: buildg-dap's `lsp` command on stdio. With a virtualenv instead:
  --   { '/path/to/venv/bin/python', '-m', 'buildg_dap', 'lsp' }
  cmd = { 'buildg-dap', 'lsp' },
  -- The buildkitd to ask (`--addr`, and `builder` of the lenses' launches); nil:
  -- BUILDKIT_HOST, else the builder buildg-dap starts itself.
  builder = nil,
  -- The build args and target the checks and hover values are computed with (the
  -- server's initializationOptions), also given to the lenses' launches.
  build_args = {},
  target = nil,
  -- More fields for the lenses' launches (the main README's table), e.g.
  --   { cacheFrom = { 'registry.example.com/app:buildcache' }, contextPath = '...' }
  launch = {},
  -- The running client, shared by all Dockerfile buffers.
  client_id = nil,
}

local group = vim.api.nvim_create_augroup('buildg-dap-lsp', { clear = true })

local function refresh_lenses(bufnr)
  if vim.api.nvim_buf_is_loaded(bufnr) then
    -- refresh() asks for the current buffer's lenses.
    vim.api.nvim_buf_call(bufnr, vim.lsp.codelens.refresh)
  end
end

local function init_options()
  local options = { target = M.target or '' }
  -- An empty Lua table would be sent as a JSON array.
  if next(M.build_args) then
    options.buildArgs = M.build_args
  end
  return options
end

local function client()
  local running = M.client_id and vim.lsp.get_client_by_id(M.client_id)
  if running and not running.is_stopped() then
    return M.client_id
  end
  local cmd = vim.deepcopy(M.cmd)
  if M.builder then
    vim.list_extend(cmd, { '--addr', M.builder })
  end
  local ok, id = pcall(vim.lsp.start_client, {
    name = 'buildg-dap',
    cmd = cmd,
    root_dir = vim.fn.getcwd(),
    init_options = init_options(),
    on_attach = function(_, bufnr)
      refresh_lenses(bufnr)
      vim.api.nvim_clear_autocmds({ group = group, buffer = bufnr })
      vim.api.nvim_create_autocmd({ 'BufWritePost', 'InsertLeave' }, {
        group = group,
        buffer = bufnr,
        callback = function() refresh_lenses(bufnr) end,
      })
    end,
  })
  if not ok or not id then
    vim.notify('buildg-dap: cannot start ' .. table.concat(cmd, ' ') .. ': ' .. tostring(id),
      vim.log.levels.ERROR)
    return nil
  end
  M.client_id = id
  return id
end

vim.api.nvim_create_autocmd('FileType', {
  group = group,
  pattern = 'dockerfile',
  callback = function(args)
    local id = client()
    if id then
      vim.lsp.buf_attach_client(args.buf, id)
    end
  end,
})

-- The lenses' commands, carried out here (the server only names them).

local function debugger(what)
  local ok, dap = pcall(require, 'dap')
  if not ok then
    vim.notify(('buildg-dap: "%s" needs nvim-dap, with the adapter of buildg-dap.lua'):format(what),
      vim.log.levels.WARN)
    return nil
  end
  if not dap.adapters['buildg-dap'] then
    vim.notify(('buildg-dap: "%s" needs the buildg-dap adapter: load buildg-dap.lua'):format(what),
      vim.log.levels.WARN)
    return nil
  end
  return dap
end

local function launch(name, dockerfile)
  local config = vim.tbl_extend('force', vim.deepcopy(M.launch), {
    type = 'buildg-dap',
    request = 'launch',
    name = name,
    -- Absolute, so it stays this file whatever contextPath the launch table names.
    dockerfile = dockerfile,
    target = M.target,
    builder = M.builder,
  })
  if next(M.build_args) then
    config.buildArgs = M.build_args
  end
  return config
end

-- Arguments: the document's uri and the stage's name ("" for the last, unnamed stage).
vim.lsp.commands['buildg-dap.debugStage'] = function(command)
  local dap = debugger('Debug stage')
  if not dap then return end
  local uri, target = unpack(command.arguments)
  local file = vim.uri_to_fname(uri)
  local name = target ~= '' and ('Debug stage ' .. target) or ('Debug ' .. vim.fn.fnamemodify(file, ':t'))
  local config = launch(name, file)
  config.target = target ~= '' and target or nil
  dap.run(config)
end

-- Arguments: the document's uri and the step's 0-based line. A breakpoint there that was
-- not the user's goes when the session ends.
vim.lsp.commands['buildg-dap.debugToHere'] = function(command)
  local dap = debugger('Debug to here')
  if not dap then return end
  local uri, line = unpack(command.arguments)
  local file, bufnr, lnum = vim.uri_to_fname(uri), vim.uri_to_bufnr(uri), line + 1
  local breakpoints = require('dap.breakpoints')
  local existing = false
  for _, bp in ipairs(breakpoints.get(bufnr)[bufnr] or {}) do
    existing = existing or bp.line == lnum
  end
  if not existing then
    breakpoints.set({}, bufnr, lnum)
    local key = ('buildg-dap.debugToHere %d:%d'):format(bufnr, lnum)
    local function release()
      dap.listeners.after.event_terminated[key] = nil
      dap.listeners.after.disconnect[key] = nil
      breakpoints.remove(bufnr, lnum)
    end
    dap.listeners.after.event_terminated[key] = release
    dap.listeners.after.disconnect[key] = release
  end
  local config = launch(('Debug %s to line %d'):format(vim.fn.fnamemodify(file, ':t'), lnum), file)
  config.stopOnEntry = false
  dap.run(config)
end

-- Dockerfiles named like `api.Dockerfile` or `Containerfile` get the filetype too.
vim.filetype.add({
  filename = { Containerfile = 'dockerfile' },
  pattern = { ['.*%.[Dd]ockerfile'] = 'dockerfile', ['[Dd]ockerfile%..*'] = 'dockerfile' },
})

return M
