<?php

/*
 * Stand-in for the service model WHMCS passes as $params['model'], limited to service properties
 * as documented at https://developers.whmcs.com/provisioning-modules/service-properties/ :
 *   $params['model']->serviceProperties->save(['Order Number' => $x]);
 *   $params['model']->serviceProperties->get('Order Number');
 * save() creates the custom field when it does not exist yet.
 */

declare(strict_types=1);

namespace EmaArchiveTests\Whmcs;

final class ServiceProperties
{
    /** @var list<array<string, mixed>> every save() call, in order */
    public array $saves = [];

    /** @param array<string, mixed> $values field name => value */
    public function __construct(public array $values = [])
    {
    }

    public function save(array $properties): void
    {
        $this->saves[] = $properties;
        foreach ($properties as $name => $value) {
            $this->values[(string) $name] = $value;
        }
    }

    public function get(string $name): mixed
    {
        return $this->values[$name] ?? null;
    }
}

final class ServiceModel
{
    public ServiceProperties $serviceProperties;

    /** @param array<string, mixed> $properties */
    public function __construct(array $properties = [])
    {
        $this->serviceProperties = new ServiceProperties($properties);
    }
}
