// The tables of migrations/{sqlite,postgres}; both backends share this schema.
// Organization tables lead their keys with organization_id (docs/scaling.md);
// their joins name it in `on` clauses, since `joinable!` knows one column.

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Nullable<Text>,
        email_verified -> Bool,
        created_at -> BigInt,
        pending_email -> Nullable<Text>,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> Nullable<BigInt>,
        /// The language of the account's emails and pages; NULL: unset.
        language -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        method -> Text,
        sso_organization_id -> Nullable<Text>,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        invite_ttl_days -> Nullable<Integer>,
        created_at -> BigInt,
        /// The language of mail to people without an account; NULL: unset.
        language -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        user_id -> Text,
        organization_id -> Nullable<Text>,
        name -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        sso_organization_id -> Nullable<Text>,
    }
}

diesel::table! {
    memberships (organization_id, id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        role -> Text,
        can_create_projects -> Bool,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        role_id -> Nullable<Text>,
        suspended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    projects (organization_id, id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    project_permissions (organization_id, membership_id, project_id) {
        membership_id -> Text,
        project_id -> Text,
        permission -> Text,
        organization_id -> Text,
    }
}

diesel::table! {
    invites (organization_id, id) {
        id -> Text,
        organization_id -> Text,
        email -> Text,
        role -> Text,
        can_create_projects -> Bool,
        token_hash -> Text,
        state -> Text,
        invited_by -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        membership_expires_at -> Nullable<BigInt>,
        inviter_name -> Nullable<Text>,
        inviter_email -> Nullable<Text>,
        inviter_confirmed -> Nullable<Bool>,
        role_id -> Nullable<Text>,
    }
}

diesel::table! {
    link_tokens (token_hash) {
        token_hash -> Text,
        purpose -> Text,
        organization_id -> Text,
        target_id -> Text,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    verified_domains (domain) {
        domain -> Text,
        organization_id -> Text,
        domain_id -> Text,
    }
}

diesel::table! {
    invite_projects (organization_id, invite_id, project_id) {
        invite_id -> Text,
        project_id -> Text,
        permission -> Text,
        organization_id -> Text,
    }
}

diesel::table! {
    email_confirmations (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        new_email -> Nullable<Text>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Text,
        user_id -> Text,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    account_tokens (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        link -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
        claim -> Nullable<Text>,
    }
}

diesel::table! {
    webhooks (organization_id, id) {
        id -> Text,
        organization_id -> Text,
        url -> Text,
        events -> Text,
        description -> Nullable<Text>,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (organization_id, id) {
        id -> Text,
        webhook_id -> Text,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        claimed_until -> Nullable<BigInt>,
        claim -> Nullable<Text>,
        last_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_attempt_at -> Nullable<BigInt>,
        created_at -> BigInt,
        organization_id -> Text,
    }
}

diesel::table! {
    domains (organization_id, id) {
        id -> Text,
        organization_id -> Text,
        domain -> Text,
        role -> Text,
        state -> Text,
        verification_email -> Text,
        token_hash -> Text,
        token_expires_at -> BigInt,
        created_at -> BigInt,
        verified_at -> Nullable<BigInt>,
        role_id -> Nullable<Text>,
    }
}

diesel::table! {
    departures (organization_id, email) {
        organization_id -> Text,
        email -> Text,
        user_id -> Text,
        departed_at -> BigInt,
    }
}

diesel::table! {
    audit_events (organization_id, id) {
        id -> Text,
        organization_id -> Text,
        actor_user_id -> Nullable<Text>,
        actor_email -> Nullable<Text>,
        action -> Text,
        target -> Text,
        details -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (caller, idempotency_key) {
        caller -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> Nullable<Integer>,
        body -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    roster_versions (organization_id) {
        organization_id -> Text,
        version -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> organizations (organization_id));
diesel::joinable!(projects -> organizations (organization_id));
diesel::joinable!(invites -> organizations (organization_id));
diesel::joinable!(webhooks -> organizations (organization_id));
diesel::joinable!(domains -> organizations (organization_id));
diesel::joinable!(invites -> users (invited_by));
diesel::joinable!(email_confirmations -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    users,
    sessions,
    organizations,
    api_keys,
    memberships,
    projects,
    project_permissions,
    invites,
    invite_projects,
    link_tokens,
    verified_domains,
    email_confirmations,
    outbox,
    webhooks,
    webhook_deliveries,
    domains,
    departures,
    audit_events,
    idempotency_keys,
    roster_versions,
    recovery_codes,
    account_tokens,
    rate_limits,
);

// The rate limits' shared counters (API.md §8, §12): not an organization's
// table, keyed by a keyed hash.
diesel::table! {
    rate_limits (bucket, key_hash) {
        bucket -> Text,
        key_hash -> Text,
        used -> Integer,
        ends_at -> BigInt,
    }
}

// Custom roles (migration 000014), and the tables their holders join them in.
diesel::table! {
    roles (organization_id, id) {
        organization_id -> Text,
        id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        permissions -> Text,
        created_at -> BigInt,
        deleted_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(roles, memberships);
diesel::allow_tables_to_appear_in_same_query!(roles, users);
diesel::allow_tables_to_appear_in_same_query!(roles, sessions);
diesel::allow_tables_to_appear_in_same_query!(roles, roster_versions);
diesel::allow_tables_to_appear_in_same_query!(roles, invites);
diesel::allow_tables_to_appear_in_same_query!(roles, domains);
diesel::allow_tables_to_appear_in_same_query!(roles, organizations);
diesel::allow_tables_to_appear_in_same_query!(roles, project_permissions);

// Teams (migration 000015): their own block, so the tables they meet in
// queries are listed pair by pair (the macro over one list would declare
// the pairs above again).

diesel::table! {
    teams (organization_id, id) {
        organization_id -> Text,
        id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        role -> Nullable<Text>,
        created_at -> BigInt,
        role_id -> Nullable<Text>,
        external_id -> Nullable<Text>,
        updated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    team_members (organization_id, team_id, membership_id) {
        organization_id -> Text,
        team_id -> Text,
        membership_id -> Text,
        created_at -> BigInt,
        /// The name a directory gave the member here (SCIM); NULL for none.
        display -> Nullable<Text>,
    }
}

diesel::table! {
    team_project_permissions (organization_id, team_id, project_id) {
        organization_id -> Text,
        team_id -> Text,
        project_id -> Text,
        permission -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(teams, team_members, team_project_permissions);

/// Lets `$team` appear with each of `$other` in one query, one pair at a time.
macro_rules! beside {
    ($team:ident: $($other:ident),+) => {
        $(diesel::allow_tables_to_appear_in_same_query!($team, $other);)+
    };
}
beside!(teams: memberships, users, projects, organizations, sessions, roster_versions);
beside!(team_members: memberships, users, projects, organizations, sessions, roster_versions);
beside!(team_project_permissions: memberships, users, projects, organizations, project_permissions);

// Custom roles beside the teams' tables (a team's members are shown with their role).
beside!(roles: teams, team_members, team_project_permissions);

diesel::table! {
    /// Keys of the provider's services for the permission checks: a
    /// reference table, of no organization (API.md §10, §12).
    service_keys (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

// Identity from elsewhere (migration 000019).
diesel::table! {
    identities (issuer, subject) {
        issuer -> Text,
        subject -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

beside!(identities: users, sessions);

// Organization sign-in (migration 000020).
diesel::table! {
    sso_connections (organization_id) {
        organization_id -> Text,
        issuer -> Text,
        client_id -> Text,
        client_secret_sealed -> Text,
        role -> Text,
        role_id -> Nullable<Text>,
        enforced_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    sso_flows (organization_id, state_hash) {
        organization_id -> Text,
        state_hash -> Text,
        nonce -> Text,
        verifier_sealed -> Text,
        browser_hash -> Text,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

beside!(sso_connections: memberships, users, sessions, roles, organizations, roster_versions, teams, verified_domains);
beside!(sso_flows: sso_connections, organizations);

// SCIM (migration 000021).
diesel::table! {
    scim_users (organization_id, membership_id) {
        organization_id -> Text,
        membership_id -> Text,
        user_name -> Text,
        user_name_key -> Text,
        external_id -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        display_name -> Nullable<Text>,
        emails -> Text,
        email_key -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(scim_users -> organizations (organization_id));
beside!(scim_users: memberships, users, organizations, roles, roster_versions, teams, team_members);
