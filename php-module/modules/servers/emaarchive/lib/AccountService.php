<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

/**
 * The service-level actions (create, suspend, ... , single sign-on) of one WHMCS service.
 * Each method returns 'success' (or the data asked for) and throws on failure; the module file
 * turns exceptions into admin sentences.
 */
final class AccountService
{
    private const MAX_NAME_LENGTH = 200;
    private const MAX_REASON_LENGTH = 255;

    public function __construct(
        private readonly ApiClient $client,
        private readonly array $params,
        private readonly ModuleLogger $logger,
    ) {
    }

    public function create(): string
    {
        $slug = SlugResolver::resolve($this->params);
        $plan = PlanSettings::fromParams($this->params);
        $email = trim((string) ($this->params['clientsdetails']['email'] ?? ''));
        $password = (string) ($this->params['password'] ?? '');
        if ($email === '') {
            throw new UserFacingException('The client has no email address, which the archive needs for the tenant\'s first administrator.');
        }
        if ($password === '') {
            throw new UserFacingException('This service has no password, which the archive needs for the tenant\'s first administrator; set one and try again.');
        }

        $response = $this->send('create_account', [
            'service_id' => $this->serviceId(),
            'slug' => $slug,
            'name' => $this->tenantName($slug),
            'plan' => $plan->plan,
            'max_users' => $plan->maxUsers,
            'storage_gb' => $plan->storageGb,
            'admin' => ['email' => $email, 'password' => $password],
        ]);
        $tenant = self::tenant($response);
        $savedSlug = is_string($tenant['slug'] ?? null) && $tenant['slug'] !== '' ? $tenant['slug'] : $slug;
        $this->saveProperty(SlugResolver::CUSTOM_FIELD, $savedSlug);

        return match ($tenant['status'] ?? null) {
            'provisioning' => throw new UserFacingException(
                sprintf('The archive is still preparing tenant "%s"; try again in a minute.', $savedSlug),
                $response->requestId,
            ),
            'failed' => throw new UserFacingException(
                sprintf('The archive could not finish creating tenant "%s"; try again to resume it, or contact support.', $savedSlug),
                $response->requestId,
            ),
            default => 'success',
        };
    }

    public function suspend(): string
    {
        $body = ['service_id' => $this->serviceId()];
        $reason = self::shorten((string) ($this->params['suspendreason'] ?? ''), self::MAX_REASON_LENGTH);
        if ($reason !== '') {
            $body['reason'] = $reason;
        }
        $this->send('suspend_account', $body);

        return 'success';
    }

    public function unsuspend(): string
    {
        $this->send('unsuspend_account', ['service_id' => $this->serviceId()]);

        return 'success';
    }

    /** The daemon suspends the tenant and records a deletion request for support; nothing is deleted. */
    public function terminate(): string
    {
        $serviceId = $this->serviceId();
        try {
            $this->send('terminate_account', [
                'service_id' => $serviceId,
                'reason' => sprintf('Terminated in WHMCS (service #%d)', $serviceId),
            ]);
        } catch (ApiException $e) {
            if ($e->problemCode !== 'not_found') {
                throw $e;
            }
            // Nothing was ever created for this service (e.g. a failed order): there is nothing to
            // terminate, and WHMCS must be able to close the service.
            $this->logger->log('TerminateAccount', ['service_id' => $serviceId], 'no archive tenant for this service', 'treated as success');
        }

        return 'success';
    }

    public function changePackage(): string
    {
        $plan = PlanSettings::fromParams($this->params);
        $this->send('change_package', ['service_id' => $this->serviceId()] + $plan->toArray());

        return 'success';
    }

    public function changePassword(): string
    {
        $password = (string) ($this->params['password'] ?? '');
        if ($password === '') {
            throw new UserFacingException('The new password is empty; enter a password and try again.');
        }
        $this->send('change_password', ['service_id' => $this->serviceId(), 'password' => $password]);

        return 'success';
    }

    /** A one-time login URL at the tenant's subdomain. */
    public function singleSignOnUrl(): string
    {
        $response = $this->client->call('sso', ['service_id' => $this->serviceId()], null, ['url']);
        $url = $response->data['url'] ?? null;
        if (!is_string($url) || preg_match('#^https?://[^\s]+$#D', $url) !== 1) {
            throw new UserFacingException('The archive did not return a login link.', $response->requestId);
        }

        return $url;
    }

    /** @return array{0: array<string, mixed>, 1: ?string} the TenantView and the request id */
    public function account(): array
    {
        $response = $this->client->call('get_account', ['service_id' => $this->serviceId()]);

        return [self::tenant($response), $response->requestId];
    }

    /**
     * Sends a state-changing action with the service's pending idempotency key, and forgets the
     * key once the daemon has given a definitive answer.
     */
    private function send(string $action, array $body): ApiResponse
    {
        $pending = PendingRequest::fromParams($this->params);
        $key = $pending->keyFor($action);
        for ($attempt = 1; ; $attempt++) {
            try {
                $response = $this->client->call($action, $body, $key);
                $pending->clear();

                return $response;
            } catch (ApiException $e) {
                // The stored key was used for a different body (e.g. the package was edited after
                // a timeout). Every action is idempotent per service, so a fresh key is safe.
                if ($e->problemCode === 'idempotency_key_reused' && $attempt === 1) {
                    $key = $pending->renew($action);
                    continue;
                }
                if ($e->isDefinitive()) {
                    $pending->clear();
                }
                throw $e;
            }
        }
    }

    private function serviceId(): int
    {
        $id = $this->params['serviceid'] ?? null;
        if (!is_numeric($id) || (int) $id < 1) {
            throw new UserFacingException('This action needs a WHMCS service, and no service id was given.');
        }

        return (int) $id;
    }

    private function tenantName(string $slug): string
    {
        $client = is_array($this->params['clientsdetails'] ?? null) ? $this->params['clientsdetails'] : [];
        $name = trim((string) ($client['companyname'] ?? ''));
        if ($name === '') {
            $name = trim(trim((string) ($client['firstname'] ?? '')) . ' ' . trim((string) ($client['lastname'] ?? '')));
        }

        return self::shorten($name === '' ? $slug : $name, self::MAX_NAME_LENGTH);
    }

    private function saveProperty(string $name, string $value): void
    {
        $model = $this->params['model'] ?? null;
        if (is_object($model)) {
            $model->serviceProperties->save([$name => $value]);
        }
    }

    /** @return array<string, mixed> */
    private static function tenant(ApiResponse $response): array
    {
        $tenant = $response->data['tenant'] ?? null;
        if (!is_array($tenant)) {
            throw new UserFacingException('The archive answered without the tenant\'s details.', $response->requestId);
        }

        return $tenant;
    }

    private static function shorten(string $text, int $max): string
    {
        $text = trim((string) preg_replace('/[\x00-\x1f\x7f]+/', ' ', $text));

        return mb_strlen($text) > $max ? rtrim(mb_substr($text, 0, $max)) : $text;
    }
}
