// The portable schema shared by both backends. Keep in step with migrations/sqlite and
// migrations/postgres: the `schema_matches_both_migration_folders` test compares all three.

diesel::table! {
    app_settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    accounts (id) {
        id -> BigInt,
        name -> Text,
        password_hash -> Nullable<Text>,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    email_addresses (id) {
        id -> BigInt,
        account_id -> BigInt,
        address -> Text,
        canonical -> Text,
        verified -> Bool,
        is_primary -> Bool,
        created_at -> Timestamp,
        verified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    workspaces (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        plan -> Nullable<Text>,
        seat_limit -> Nullable<Integer>,
        daily_invite_limit -> Integer,
        invite_expiry_days -> Integer,
        active_members -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    members (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        account_id -> BigInt,
        status -> Text,
        seat_type -> Text,
        manager_id -> Nullable<BigInt>,
        department -> Nullable<Text>,
        metadata -> Text,
        sort_name -> Text,
        joined_at -> Timestamp,
        updated_at -> Timestamp,
        joined_via -> Nullable<Text>,
        approved_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    roles (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        builtin_key -> Nullable<Text>,
        name -> Text,
        name_canonical -> Text,
        description -> Text,
        position -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    role_permissions (role_id, permission) {
        role_id -> BigInt,
        permission -> Text,
        scope -> Nullable<Text>,
    }
}

diesel::table! {
    member_roles (member_id, role_id) {
        member_id -> BigInt,
        role_id -> BigInt,
        is_primary -> Bool,
    }
}

diesel::table! {
    permission_grants (id) {
        id -> BigInt,
        member_id -> BigInt,
        permission -> Text,
        scope -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        granted_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        account_id -> Nullable<BigInt>,
        state -> Text,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        workspace_id -> Nullable<BigInt>,
        actor_account_id -> Nullable<BigInt>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<BigInt>,
        target_label -> Nullable<Text>,
        changes -> Text,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(email_addresses -> accounts (account_id));
diesel::joinable!(members -> accounts (account_id));
diesel::joinable!(members -> workspaces (workspace_id));
diesel::joinable!(roles -> workspaces (workspace_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(member_roles -> members (member_id));
diesel::joinable!(member_roles -> roles (role_id));
diesel::joinable!(permission_grants -> members (member_id));
diesel::joinable!(sessions -> accounts (account_id));

diesel::table! {
    invites (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        email -> Text,
        canonical -> Text,
        name -> Nullable<Text>,
        message -> Nullable<Text>,
        notification_email -> Nullable<Text>,
        metadata -> Text,
        seat_type -> Text,
        status -> Text,
        token_hash -> Text,
        invited_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        sent_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        accepted_by -> Nullable<BigInt>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<BigInt>,
        link_token_hash -> Nullable<Text>,
    }
}

diesel::table! {
    invite_roles (invite_id, role_id) {
        invite_id -> BigInt,
        role_id -> BigInt,
        position -> Integer,
    }
}

diesel::table! {
    replaced_invite_links (token_hash) {
        token_hash -> Text,
        invite_id -> BigInt,
        replaced_by -> Text,
        replaced_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        workspace_id -> Nullable<BigInt>,
        invite_id -> Nullable<BigInt>,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        delivered_via -> Nullable<Text>,
    }
}

diesel::table! {
    account_tokens (id) {
        id -> BigInt,
        purpose -> Text,
        account_id -> BigInt,
        email_address_id -> Nullable<BigInt>,
        token_hash -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(account_tokens -> accounts (account_id));
diesel::joinable!(account_tokens -> email_addresses (email_address_id));
diesel::joinable!(invites -> workspaces (workspace_id));
diesel::joinable!(invite_roles -> invites (invite_id));
diesel::joinable!(invite_roles -> roles (role_id));
diesel::joinable!(outbox -> invites (invite_id));
diesel::joinable!(replaced_invite_links -> invites (invite_id));

diesel::table! {
    permission_requests (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        member_id -> BigInt,
        permission -> Text,
        scope -> Nullable<Text>,
        reason -> Text,
        status -> Text,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        note -> Nullable<Text>,
        grant_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(permission_requests -> members (member_id));

diesel::table! {
    domains (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        domain -> Text,
        status -> Text,
        verification_token -> Text,
        join_policy -> Text,
        created_at -> Timestamp,
        verified_at -> Nullable<Timestamp>,
        last_checked_at -> Nullable<Timestamp>,
        last_check_result -> Nullable<Text>,
        role_ids -> Text,
        include_subdomains -> Bool,
        policy_author_account_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    modules (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        key -> Text,
        name -> Text,
        position -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    member_module_revocations (member_id, module_id) {
        member_id -> BigInt,
        module_id -> BigInt,
    }
}

diesel::joinable!(domains -> workspaces (workspace_id));
diesel::joinable!(modules -> workspaces (workspace_id));
diesel::joinable!(member_module_revocations -> members (member_id));
diesel::joinable!(member_module_revocations -> modules (module_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_settings,
    accounts,
    email_addresses,
    workspaces,
    members,
    roles,
    role_permissions,
    member_roles,
    permission_grants,
    sessions,
    audit_events,
    invites,
    invite_roles,
    replaced_invite_links,
    outbox,
    permission_requests,
    domains,
    modules,
    member_module_revocations,
    account_tokens,
    join_links,
    join_requests,
    roster_snapshots,
);

diesel::table! {
    join_links (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        token_hash -> Nullable<Text>,
        enabled -> Bool,
        require_approval -> Bool,
        verified_domains_only -> Bool,
        role_ids -> Text,
        expires_at -> Nullable<Timestamp>,
        max_uses -> Nullable<Integer>,
        uses -> Integer,
        author_account_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    join_requests (id) {
        id -> BigInt,
        workspace_id -> BigInt,
        account_id -> BigInt,
        status -> Text,
        role_ids -> Text,
        confirm_token_hash -> Nullable<Text>,
        member_id -> Nullable<BigInt>,
        decided_by -> Nullable<BigInt>,
        decided_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        domain_id -> Nullable<BigInt>,
    }
}

diesel::joinable!(join_links -> workspaces (workspace_id));
diesel::joinable!(join_requests -> workspaces (workspace_id));

diesel::table! {
    roster_snapshots (workspace_id, events) {
        workspace_id -> BigInt,
        events -> BigInt,
        last_event_id -> BigInt,
        last_event_at -> Timestamp,
        roster -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(roster_snapshots -> workspaces (workspace_id));
