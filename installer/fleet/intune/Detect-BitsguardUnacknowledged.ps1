# bitsguard: Intune remediation detection script. Prints ONE line of at most 2,048 characters (Intune keeps
# only the last line of output) from `bitsguard status --json`; exit 1 when there are detections nobody has
# acknowledged (`bitsguard ack`) or when the status cannot be read, 0 otherwise. See installer/fleet/README.md.
param([string]$Exe = (Join-Path $(if ($env:ProgramW6432) { $env:ProgramW6432 } else { $env:ProgramFiles }) 'bitsguard\bitsguard.exe'))

function Out-Line([string]$Text) {
    # Control and format characters (a URL may hold any) would break or hide parts of the one line.
    $t = $Text -replace '[\p{Cc}\p{Cf}]', '?'
    if ($t.Length -gt 2048) {
        $cut = 2045
        if ([char]::IsHighSurrogate($t[$cut - 1])) { $cut-- }
        $t = $t.Substring(0, $cut) + '...'
    }
    Write-Output $t
}

try {
    [Console]::OutputEncoding = [Text.Encoding]::UTF8 # bitsguard writes UTF-8; the console default is the OEM code page.
    $raw = & $Exe status --json 2>$null
    if ($LASTEXITCODE -ne 0) { Out-Line "bitsguard: status failed (exit $LASTEXITCODE)"; exit 1 }
    $s = ($raw -join "`n") | ConvertFrom-Json
} catch {
    Out-Line "bitsguard: status unreadable: $($_.Exception.Message)"; exit 1
}
$n = [int64]$s.detections_unacknowledged
if ($n -gt 0) {
    $d = @($s.unacknowledged_last)[0]
    Out-Line ("bitsguard: {0} unacknowledged detection(s); newest #{1} {2} {3} {4} {5}" -f $n, $d.id, $d.last_seen, $d.computer, $d.ip, $d.url)
    exit 1
}
Out-Line ("bitsguard: no unacknowledged detection ({0} stored, {1} errors)" -f $s.detections_total, $s.errors_total)
exit 0
