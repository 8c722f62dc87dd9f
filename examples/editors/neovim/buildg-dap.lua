-- nvim-dap setup for buildg-dap, the Dockerfile debugger. Put it where your init.lua
-- finds it (e.g. ~/.config/nvim/lua/buildg-dap.lua, then `require('buildg-dap')`), or
-- paste it in. In a Dockerfile: :DapToggleBreakpoint on a step line, :DapContinue (pick
-- a configuration), and when it stops, :DapToggleRepl and type `exec cat /hi`.
local dap = require('dap')

-- The adapter: buildg-dap's `dap` command on stdio. With a virtualenv instead:
--   command = '/path/to/venv/bin/python', args = { '-m', 'buildg_dap', 'dap' }
dap.adapters['buildg-dap'] = {
  type = 'executable',
  command = 'buildg-dap',
  args = { 'dap' },
}

-- Fields as in VS Code's launch.json (see the README's launch table). `${file}` is the
-- Dockerfile in the current buffer; its folder is the build context.
dap.configurations.dockerfile = {
  {
    type = 'buildg-dap',
    request = 'launch',
    name = 'Debug Dockerfile',
    dockerfile = '${file}',
  },
  {
    type = 'buildg-dap',
    request = 'launch',
    name = 'Debug with a remote cache',
    dockerfile = '${file}',
    cacheFrom = function()
      return { vim.fn.input('Cache (e.g. registry.example.com/app:buildcache): ') }
    end,
  },
  {
    type = 'buildg-dap',
    request = 'launch',
    name = 'Debug a target stage',
    dockerfile = '${file}',
    target = function()
      return vim.fn.input('Stage: ')
    end,
  },
}

-- Dockerfiles named like `api.Dockerfile` or `Containerfile` get the filetype too.
vim.filetype.add({
  filename = { Containerfile = 'dockerfile' },
  pattern = { ['.*%.[Dd]ockerfile'] = 'dockerfile', ['[Dd]ockerfile%..*'] = 'dockerfile' },
})
