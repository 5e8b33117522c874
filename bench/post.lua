-- wrk script: POSTs realistic reports (25 checks, about one in ten failing) to
-- /installation_data/, each from a new learner. Used by bench/ingest.sh and bench/stats.sh.
-- With POST_FAILURES=common in the environment, each report fails instead three of the
-- checks `generate`'s learners fail most on its system, so every answer has advice to look
-- up (bench/advice.sh).
local names = {
  "Bash (bash)", "GNU nano (nano)", "Vim (vim)", "Visual Studio Code (vscode)", "Git (git)",
  "GNU Make (make)", "Python (python)", "pip (pip)", "conda (conda)",
  "Jupyter Notebook (notebook)", "JupyterLab (jupyterlab)", "NumPy (numpy)", "pandas (pandas)",
  "Matplotlib (matplotlib)", "SciPy (scipy)", "seaborn (seaborn)",
  "scikit-learn (scikit-learn)", "SQLite (sqlite3)", "Python sqlite3 module (python-sqlite3)",
  "R (r)", "RStudio (rstudio)", "Zsh (zsh)", "PowerShell (powershell)", "GNU Emacs (emacs)",
  "Git Bash (git-bash)",
}
local systems = {
  '"distribution_name": "Windows", "distribution_version": "11", "system": "Windows", "system_version": "10.0.22631", "machine": "AMD64", "system_platform": "Windows-10-10.0.22631-SP0"',
  '"distribution_name": "macOS", "distribution_version": "14.2.1", "system": "Darwin", "system_version": "Darwin Kernel Version 23.2.0", "machine": "arm64", "system_platform": "macOS-14.2.1-arm64-arm-64bit"',
  '"distribution_name": "Ubuntu", "distribution_version": "22.04", "system": "Linux", "system_version": "#50-Ubuntu SMP PREEMPT_DYNAMIC", "machine": "x86_64", "system_platform": "Linux-6.5.0-x86_64-with-glibc2.35"',
}

-- The most failed checks of `generate`'s data, by system (as `systems` lists them).
local common = {
  {"GNU Make (make)", "SQLite (sqlite3)", "Matplotlib (matplotlib)", "pandas (pandas)", "NumPy (numpy)"},
  {"Git (git)", "pandas (pandas)", "NumPy (numpy)", "Matplotlib (matplotlib)", "Python (python)"},
  {"Git (git)", "pandas (pandas)", "NumPy (numpy)", "Matplotlib (matplotlib)", "SQLite (sqlite3)"},
}
local common_failures = os.getenv("POST_FAILURES") == "common"

-- A handful of distinct bodies, built once per thread, so building them costs nothing.
local bodies = {}
function init(args)
  for b = 1, 16 do
    local failing = {}
    for k = 0, 2 do
      failing[common[b % 3 + 1][(b + k) % 5 + 1]] = true
    end
    local ok, failed = {}, {}
    for i, name in ipairs(names) do
      local version = string.format("%d.%d.%d", (i + b) % 7 + 1, (i * b) % 20, b % 5)
      local fails
      if common_failures then fails = failing[name] else fails = math.random() < 0.1 end
      if fails then
        failed[#failed + 1] = string.format(
          '{"name": "%s", "version": "%s", "error_description": "version %s is too old"}',
          name, version, version)
      else
        ok[#ok + 1] = string.format('{"name": "%s", "version": "%s"}', name, version)
      end
    end
    bodies[b] = string.format(
      '{"user_system_info": {%s, "python_version": "3.11.7", "workshop_id": "2026-11-27-bench-%d", "email_id": null}, ' ..
      '"successful_installs": [%s], "failed_installs": [%s], "unique_user_id": null}',
      systems[b % 3 + 1], b % 4, table.concat(ok, ", "), table.concat(failed, ", "))
  end
end

local n = 0
function request()
  n = n + 1
  return wrk.format("POST", "/installation_data/",
    {["Content-Type"] = "application/json"}, bodies[n % 16 + 1])
end
