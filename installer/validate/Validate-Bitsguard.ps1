<#
.SYNOPSIS
    Validates an installed bitsguard on a real Windows host: everything docs/windows-validation.md lists as
    unprovable under Wine.

.DESCRIPTION
    Run elevated (an administrator) on a disposable Windows 10/11 or Server host or CI runner. It installs the
    MSI silently, runs `bitsguard selftest`, creates real BITS jobs with bitsadmin and Start-BitsTransfer
    (suspended jobs to public IP literals that are never resumed, so nothing is sent to them; one completed
    transfer from a local HTTP server on 127.0.0.1 with AlertPrivateRanges=1), and checks `bitsguard query`,
    `bitsguard jobs`, the Event Log alerts (Get-WinEvent), the Bits-Client channel's access SDDL before and
    after setup (wevtutil gl), the data folder's ACL and owner, the service's SID type, privileges, recovery
    actions and delayed start, an upgrade keeping the data, and the uninstall.
    It changes the machine (installs a service, creates and cancels BITS jobs): never run it on a production
    endpoint. Every check prints PASS/FAIL/SKIP; the exit status is 0 when nothing failed, else 1.

.PARAMETER Msi
    The bitsguard MSI to install (built on Linux by installer/build-msi.sh; this script builds nothing).

.PARAMETER UpgradeMsi
    Optional: an MSI of a higher version, to check that an upgrade keeps the database and the settings.

.PARAMETER LogDir
    Where msiexec logs and command outputs go (default: .\bitsguard-validation).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$Msi,
    [string]$UpgradeMsi = "",
    [string]$LogDir = ".\bitsguard-validation"
)
Set-StrictMode -Version 3
$ErrorActionPreference = "Stop"

$script:Failures = 0
$script:Passes = 0
function Pass([string]$what) { $script:Passes++; Write-Host "PASS  $what" }
function Fail([string]$what) { $script:Failures++; Write-Host "FAIL  $what" -ForegroundColor Red }
function Skip([string]$what) { Write-Host "SKIP  $what" -ForegroundColor Yellow }
function Check([bool]$ok, [string]$what) { if ($ok) { Pass $what } else { Fail $what } }

$Channel = "Microsoft-Windows-Bits-Client/Operational"
$Exe = Join-Path $env:ProgramFiles "bitsguard\bitsguard.exe"
$DataDir = Join-Path $env:ProgramData "bitsguard"
New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
$LogDir = (Resolve-Path $LogDir).Path
$Msi = (Resolve-Path $Msi).Path
$Started = Get-Date

# Runs bitsguard.exe ARGS; returns @{ Status; Out } and keeps the output in the log folder.
function Invoke-Bitsguard([string]$name, [string[]]$arguments) {
    $out = Join-Path $LogDir "$name.out"
    $err = Join-Path $LogDir "$name.err"
    $p = Start-Process -FilePath $Exe -ArgumentList $arguments -NoNewWindow -Wait -PassThru `
        -RedirectStandardOutput $out -RedirectStandardError $err
    return @{ Status = $p.ExitCode; Out = (Get-Content -Raw -ErrorAction SilentlyContinue $out) + "" ;
              Err = (Get-Content -Raw -ErrorAction SilentlyContinue $err) + "" }
}
function Invoke-Msiexec([string]$name, [string[]]$arguments) {
    $log = Join-Path $LogDir "$name.msilog"
    $p = Start-Process -FilePath msiexec.exe -ArgumentList ($arguments + @("/qn", "/l*v", "`"$log`"")) -Wait -PassThru
    return $p.ExitCode
}
function Get-ChannelAccess {
    $line = (wevtutil gl $Channel) | Where-Object { $_ -match '^\s*channelAccess:' }
    if ($line) { return ($line -replace '^\s*channelAccess:\s*', '').Trim() }
    return ""
}
# Waits up to $seconds for $test to return $true.
function Wait-Until([scriptblock]$test, [int]$seconds) {
    $deadline = (Get-Date).AddSeconds($seconds)
    while ((Get-Date) -lt $deadline) {
        if (& $test) { return $true }
        Start-Sleep -Milliseconds 500
    }
    return [bool](& $test)
}
function Get-Alerts([int[]]$ids) {
    try {
        return @(Get-WinEvent -FilterHashtable @{ LogName = "Application"; ProviderName = "bitsguard"; Id = $ids;
                                                   StartTime = $Started } -ErrorAction Stop)
    } catch { return @() }
}
function Query-Json {
    $r = Invoke-Bitsguard "query" @("query", "--all", "--format", "json")
    return @($r.Out -split "`r?`n" | Where-Object { $_ } | ForEach-Object { $_ | ConvertFrom-Json })
}

# ------------------------------------------------------------------------------------------ preconditions
$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Write-Error "run this script elevated (as an administrator)"
}
Write-Host "bitsguard validation on $env:COMPUTERNAME ($([Environment]::OSVersion.VersionString)), MSI $Msi"
Check ((Get-WinEvent -ListLog $Channel).IsEnabled) "the Bits-Client channel is enabled"
$AccessBefore = Get-ChannelAccess
Set-Content -Path (Join-Path $LogDir "channel-access-before.txt") -Value $AccessBefore

# A flagged job that exists before bitsguard: setup's inventory must store it (source inventory). Suspended,
# never resumed: BITS sends nothing to the address.
$pre = "bitsguard-validate-preexisting"
bitsadmin /create /download $pre | Out-Null
bitsadmin /addfile $pre "http://45.33.32.156/bitsguard-validate/pre.bin" "$env:TEMP\bitsguard-validate-pre.bin" | Out-Null
$preId = ((Get-BitsTransfer -AllUsers | Where-Object DisplayName -eq $pre | Select-Object -First 1).JobId).ToString().ToLower()

# ------------------------------------------------------------------------------------------ install
$st = Invoke-Msiexec "install" @("/i", "`"$Msi`"", "ALERT_PRIVATE=1")
Check ($st -eq 0) "msiexec /i /qn exits 0 (got $st)"
$svc = Get-CimInstance Win32_Service -Filter "Name='bitsguard'"
Check ($null -ne $svc -and $svc.State -eq "Running") "the service runs after install"
Check ($svc.StartName -eq "NT AUTHORITY\LocalService") "the service runs as LocalService (got $($svc.StartName))"
Check ($svc.PathName.StartsWith('"')) "the image path is quoted ($($svc.PathName))"

# Service settings Wine ignores or refuses: SID type, privileges, recovery, delayed start, preshutdown.
Check ((sc.exe qsidtype bitsguard | Out-String) -match "SERVICE_SID_TYPE:\s+UNRESTRICTED") "service SID type UNRESTRICTED"
$privs = sc.exe qprivs bitsguard | Out-String
Check ($privs -match "SeChangeNotifyPrivilege" -and ($privs -split "Se[A-Za-z]+Privilege").Count -eq 2) `
    "required privileges: SeChangeNotifyPrivilege only"
$fail = sc.exe qfailure bitsguard | Out-String
Check ($fail -match "RESET_PERIOD \(in seconds\)\s*:\s*86400" -and $fail -match "RESTART -- Delay = 5000" -and
       $fail -match "RESTART -- Delay = 10000" -and $fail -match "RESTART -- Delay = 60000") `
    "recovery: restart after 5 s, 10 s, 60 s, reset after a day"
$qc = sc.exe qc bitsguard | Out-String
Check ($qc -match "AUTO_START\s+\(DELAYED\)") "start type automatic (delayed)"
$svcKey = Get-ItemProperty "HKLM:\SYSTEM\CurrentControlSet\Services\bitsguard"
Check ($svcKey.PreshutdownTimeout -eq 10000) "preshutdown time-out 10 s"

# The data folder: owner Administrators, protected DACL, SYSTEM and Administrators full, the service SID.
$acl = Get-Acl $DataDir
Check ($acl.Owner -eq "BUILTIN\Administrators") "data folder owner Administrators (got $($acl.Owner))"
Check ($acl.AreAccessRulesProtected) "data folder DACL protected (no inherited entries)"
$ids = @($acl.Access | ForEach-Object { $_.IdentityReference.Value })
Check (($ids -contains "NT AUTHORITY\SYSTEM") -and ($ids -contains "BUILTIN\Administrators") -and
       ($ids -contains "NT SERVICE\bitsguard") -and -not ($ids -match "Users|Everyone|Authenticated")) `
    "data folder grants SYSTEM, Administrators and NT SERVICE\bitsguard only ($($ids -join ', '))"
$db = Join-Path $DataDir "bitsguard.db"
if (Test-Path $db) {
    Check ((Get-Acl $db).Owner -in @("BUILTIN\Administrators", "NT AUTHORITY\SYSTEM", "NT SERVICE\bitsguard")) `
        "database file owner ($((Get-Acl $db).Owner))"
}

# The Bits-Client channel's access: the service reads it (SU already, or one entry for its SID).
$AccessAfter = Get-ChannelAccess
Set-Content -Path (Join-Path $LogDir "channel-access-after.txt") -Value $AccessAfter
$sid = ((sc.exe showsid bitsguard | Out-String) -split "`r?`n" | Where-Object { $_ -match "SERVICE SID:" }) -replace '.*SERVICE SID:\s*', ''
$sid = $sid.Trim()
$readsBefore = $AccessBefore -match "\(A;;0x[0-9a-f]*1;;;SU\)"
Check (($AccessAfter -match [regex]::Escape("(A;;0x1;;;$sid)")) -or ($readsBefore -and $AccessAfter -eq $AccessBefore)) `
    "channel access after setup lets the service SID read ($AccessAfter)"

# ------------------------------------------------------------------------------------------ inventory at setup
$rows = Query-Json
Check (@($rows | Where-Object { $_.job_id -eq $preId -and $_.source -eq "inventory" }).Count -eq 1) `
    "setup stored the job that existed before install (source inventory)"
bitsadmin /cancel $pre | Out-Null

# ------------------------------------------------------------------------------------------ selftest
$r = Invoke-Bitsguard "selftest" @("selftest", "--timeout", "120")
Check ($r.Status -eq 0) "bitsguard selftest exits 0 (got $($r.Status)): $($r.Out) $($r.Err)"
$nonce = if ($r.Out -match "bitsguard selftest ([0-9a-f]{32})") { $Matches[1] } else { "" }
Check ($nonce -ne "" -and @(Get-Alerts @(1100) | Where-Object { $_.Message -match $nonce }).Count -eq 1) `
    "the self-test alert (event 1100) carries the nonce"

# ------------------------------------------------------------------------------------------ real jobs
# Suspended jobs to public literals in notations the public rule misses; never resumed.
$urls = @("http://45.33.32.156/bitsguard-validate/a.bin", "http://0x2d.0x21.0x20.0x9c/bitsguard-validate/b.bin",
          "http://[2001:4860:4860::8888]/bitsguard-validate/c.bin")
$made = @()
$j = "bitsguard-validate-bitsadmin"
bitsadmin /create /download $j | Out-Null
bitsadmin /addfile $j $urls[0] "$env:TEMP\bitsguard-validate-a.bin" | Out-Null
bitsadmin /SetNotifyCmdLine $j "C:\Windows\System32\cmd.exe" "cmd.exe /c exit" | Out-Null
$made += (Get-BitsTransfer -AllUsers | Where-Object DisplayName -eq $j | Select-Object -First 1)
for ($i = 1; $i -lt $urls.Count; $i++) {
    $made += Start-BitsTransfer -Source $urls[$i] -Destination "$env:TEMP\bitsguard-validate-$i.bin" -Suspended `
        -DisplayName "bitsguard-validate-ps-$i"
}
$jobIds = @($made | ForEach-Object { $_.JobId.ToString().ToLower() })
$stored = Wait-Until { $q = Query-Json; @($jobIds | Where-Object { $id = $_; $q | Where-Object { $_.job_id -eq $id -and $_.verdict -eq "public-ip" } }).Count -eq $jobIds.Count } 120
Check $stored "bitsguard query shows the three direct-IP jobs (bitsadmin, Start-BitsTransfer)"
Check (@(Get-Alerts @(1000) | Where-Object { $m = $_.Message; @($jobIds | Where-Object { $m -match $_ }).Count -gt 0 }).Count -ge 3) `
    "an Event Log alert (1000) for each"
$r = Invoke-Bitsguard "jobs" @("jobs", "--all-users", "--format", "json")
Check ($r.Status -eq 1) "bitsguard jobs exits 1 with flagged jobs"
$listed = @($r.Out -split "`r?`n" | Where-Object { $_ } | ForEach-Object { $_ | ConvertFrom-Json })
$bj = $listed | Where-Object { $_.job_id -eq $jobIds[0] }
Check ($null -ne $bj -and $bj.notify_known -and $bj.notify_program -match "cmd.exe" -and ($bj.flags -contains "notify") -and
       ($bj.flags -contains "direct-ip") -and $bj.owner -match "\\" -and $bj.created) `
    "jobs reports owner, times and the notify command line (GetOwner, GetTimes, GetNotifyCmdLine)"
$r = Invoke-Bitsguard "cancel" @("jobs", "--cancel", $jobIds[0])
Check ($r.Status -eq 0 -and $r.Out -match "recorded as cancelled by") "jobs --cancel cancels and records the action"
Check ($null -eq (Get-BitsTransfer -AllUsers | Where-Object { $_.JobId.ToString().ToLower() -eq $jobIds[0] })) `
    "the cancelled job is gone from the BITS service"
$made | Select-Object -Skip 1 | ForEach-Object { Remove-BitsTransfer -BitsJob $_ -ErrorAction SilentlyContinue }

# A completed transfer from 127.0.0.1 (AlertPrivateRanges=1): private-ip, range loopback, alert 1001.
$port = 18765
$server = Start-Job -ScriptBlock {
    param($port)
    $l = New-Object System.Net.HttpListener
    $l.Prefixes.Add("http://127.0.0.1:$port/")
    $l.Start()
    for ($k = 0; $k -lt 20; $k++) {
        $c = $l.GetContext()
        $bytes = [Text.Encoding]::ASCII.GetBytes("bitsguard validation payload")
        $c.Response.ContentLength64 = $bytes.Length
        if ($c.Request.HttpMethod -ne "HEAD") { $c.Response.OutputStream.Write($bytes, 0, $bytes.Length) }
        $c.Response.Close()
    }
} -ArgumentList $port
Start-Sleep -Seconds 2
$local = "http://127.0.0.1:$port/bitsguard-validate.bin"
try {
    Start-BitsTransfer -Source $local -Destination "$env:TEMP\bitsguard-validate-local.bin" -DisplayName "bitsguard-validate-local"
    Pass "a BITS download from 127.0.0.1 completed"
} catch { Fail "a BITS download from 127.0.0.1: $_" }
Check (Wait-Until { @(Query-Json | Where-Object { $_.url -eq $local -and $_.verdict -eq "private-ip" -and $_.range -eq "loopback" -and $_.state -eq "completed" }).Count -eq 1 } 120) `
    "query shows the local transfer as private-ip loopback, completed"
Check (@(Get-Alerts @(1001) | Where-Object { $_.Message -match [regex]::Escape($local) }).Count -ge 1) `
    "an Event Log alert (1001) for it (AlertPrivateRanges=1)"
Stop-Job $server -ErrorAction SilentlyContinue; Remove-Job $server -Force -ErrorAction SilentlyContinue

# ------------------------------------------------------------------------------------------ upgrade
$dbSize = (Get-Item $db).Length
if ($UpgradeMsi) {
    $st = Invoke-Msiexec "upgrade" @("/i", "`"$((Resolve-Path $UpgradeMsi).Path)`"")
    Check ($st -eq 0) "upgrade exits 0 (got $st)"
    Check ((Get-CimInstance Win32_Service -Filter "Name='bitsguard'").State -eq "Running") "the service runs after the upgrade"
    Check ((Test-Path $db) -and (Get-Item $db).Length -ge $dbSize) "the upgrade kept the database"
    Check (@(Query-Json | Where-Object { $_.job_id -eq $preId }).Count -eq 1) "the upgrade kept the detections"
    Check ((Get-ItemProperty "HKLM:\SOFTWARE\bitsguard").AlertPrivateRanges -eq "1") "the upgrade kept the settings"
} else {
    Skip "upgrade (give -UpgradeMsi with a higher version)"
}

# ------------------------------------------------------------------------------------------ uninstall
$st = Invoke-Msiexec "uninstall" @("/x", "`"$Msi`"")
if ($UpgradeMsi) { $st = Invoke-Msiexec "uninstall" @("/x", "`"$((Resolve-Path $UpgradeMsi).Path)`"") }
Check ($st -eq 0) "msiexec /x exits 0 (got $st)"
Check ($null -eq (Get-CimInstance Win32_Service -Filter "Name='bitsguard'")) "the service is removed"
Check (-not (Test-Path "HKLM:\SYSTEM\CurrentControlSet\Services\EventLog\Application\bitsguard")) "the event source is removed"
Check ((Get-ChannelAccess) -eq $AccessBefore) "the channel access is back to what it was before setup"
Check (Test-Path $db) "the database is kept (REMOVE_DATA not given)"

Write-Host ""
Write-Host "$($script:Passes) passed, $($script:Failures) failed; logs in $LogDir"
if ($script:Failures -gt 0) { exit 1 }
exit 0
