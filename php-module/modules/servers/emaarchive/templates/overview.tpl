{* EMA Archive: client area overview of one archive tenant. Variables come from emaarchive_ClientArea. *}
<div class="ema-archive-overview">
{if $errorMessage}
    <div class="alert alert-warning">{$errorMessage|escape}</div>
{else}
    <h3>{$tenantName|escape}</h3>
    <table class="table table-sm">
        <tr>
            <th scope="row">Archive address</th>
            <td>{if $url}<a href="{$url|escape}" target="_blank" rel="noopener noreferrer">{$url|escape}</a>{else}-{/if}</td>
        </tr>
        <tr>
            <th scope="row">Status</th>
            <td>{$statusLabel|escape}</td>
        </tr>
        <tr>
            <th scope="row">Users</th>
            <td>{$users|escape} ({$activeUsers|escape} active) of {$maxUsers|escape} allowed</td>
        </tr>
        <tr>
            <th scope="row">Storage</th>
            <td>{$storageUsed|escape} of {$storageLimit|escape}</td>
        </tr>
        <tr>
            <th scope="row">Plan</th>
            <td>{$plan|escape}</td>
        </tr>
        {if $usageMeasuredAt}
        <tr>
            <th scope="row">Usage measured</th>
            <td>{$usageMeasuredAt|escape}</td>
        </tr>
        {/if}
    </table>
    {if $status eq 'suspended'}
        <p class="text-muted">Logins are blocked while the archive is suspended; incoming mail is still archived.</p>
    {/if}
{/if}
</div>
